// routes and can: the effective route table, and whether a principal may call a route (and why).
import { sql } from "kysely";
import { findUser, userNotFound } from "../../src/accounts/users.ts";
import { decide, describeAccess } from "../../src/auth/guard.ts";
import type { Principal } from "../../src/auth/principal.ts";
import { tokenNotFound } from "../../src/accounts/tokens.ts";
import { loadHandlers } from "../../src/config/handlers.ts";
import type { Config, CorsPolicy, RateLimitPolicy } from "../../src/config/schema.ts";
import { allBuiltinRoutes } from "../../src/server/builtin/all.ts";
import type { Route } from "../../src/server/route.ts";
import { buildRouteTable } from "../../src/server/route-table.ts";
import { command } from "../command.ts";
import { withDatabase } from "../database.ts";
import { CommandError } from "../errors.ts";
import { loadOptionalConfig } from "../options.ts";
import { printJson, printTable } from "../output.ts";

async function effectiveTable(args: Record<string, unknown>): Promise<{ config: Config; table: Route[] }> {
  const config = await loadOptionalConfig({ ...args, config: args.config ?? "./endpoint.yaml" }, true);
  if (!config) throw new CommandError("cannot read config file './endpoint.yaml': file not found");
  const table = buildRouteTable(config, await loadHandlers(config), allBuiltinRoutes(config));
  return { config, table };
}

export const routesCommand = command({
  name: "routes",
  args: { json: { type: "boolean", description: "Print JSON" } },
  async run({ args }) {
    const { table } = await effectiveTable(args);
    if (args.json)
      return printJson(
        table.map((r) => ({
          name: r.name,
          method: r.method,
          path: r.path,
          handler: r.handlerName,
          public: r.rule.public,
          groups: r.rule.groups,
          auth: r.rule.accepts,
          origin: r.origin,
          description: r.description ?? null,
          rate_limits: r.rateLimits.map((p) => ({ name: p.name, limit: p.limit, window_seconds: p.windowSeconds, per: p.per })),
          cors: r.cors
            ? { origins: r.cors.origins, methods: r.cors.methods, headers: r.cors.headers, max_age: r.cors.maxAgeSeconds, credentials: r.cors.credentials }
            : null,
        })),
      );
    printTable(
      ["METHOD", "PATH", "NAME", "HANDLER", "ACCESS", "AUTH", "LIMITS", "CORS"],
      table.map((r) => [
        r.method,
        r.path,
        r.name,
        r.handlerName,
        describeAccess(r.rule),
        r.rule.public ? "-" : r.rule.accepts.join(","),
        describeLimits(r.rateLimits),
        describeCors(r.cors),
      ]),
    );
  },
});

/** A window in its largest whole unit: 60 → 1m, 3600 → 1h, 86400 → 1d, 604800 → 7d, 90 → 90s. */
export function compactWindow(seconds: number): string {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

/** `5/7d per token, 100/1m per route`; `-` when the route is not limited. */
function describeLimits(limits: readonly RateLimitPolicy[]): string {
  return limits.length ? limits.map((p) => `${p.limit}/${compactWindow(p.windowSeconds)} per ${p.per}`).join(", ") : "-";
}

/** The origins, and ` +credentials` when the browser may send cookies; `-` when no other origin may call it. */
function describeCors(cors: CorsPolicy | undefined): string {
  return cors ? `${cors.origins.join(",")}${cors.credentials ? " +credentials" : ""}` : "-";
}

export const canCommand = command({
  name: "can",
  args: {
    username: { type: "string", description: "The user to check", valueHint: "U" },
    token: { type: "string", description: "A token id to check (with its owner's groups and its route scope)", valueHint: "ID" },
    route: { type: "string", description: "The route's name (see: routes)", required: true, valueHint: "NAME" },
  },
  async run({ args }) {
    if (!args.username === !args.token) throw new CommandError("give exactly one of --username or --token");
    const { table } = await effectiveTable(args);
    const route = table.find((r) => r.name === args.route);
    if (!route) throw new CommandError(`no route is named '${args.route}'; see: bun run cli routes`);
    await withDatabase(args, async ({ db }) => {
      let principal: Principal;
      let who: string;
      if (args.username) {
        const user = await findUser(db, args.username);
        if (!user) throw userNotFound(args.username);
        if (user.disabled) return deny(`no: user '${user.username}' is disabled`);
        const via = route.rule.accepts.includes("session") ? "session" : "token";
        principal = { id: user.id, username: user.username, groups: await groupsOf(db, user.id), via };
        who = `user '${user.username}' (by ${via})`;
      } else {
        const token = await db
          .selectFrom("api_tokens")
          .innerJoin("users", "users.id", "api_tokens.user_id")
          // Expiry by the database's clock, as the server judges it.
          .select(["api_tokens.id", "api_tokens.routes", "api_tokens.revoked_at", sql<boolean>`api_tokens.expires_at <= now()`.as("expired"), "users.id as user_id", "users.username", "users.disabled"])
          .where("api_tokens.id", "=", /^[0-9a-f-]{36}$/.test(args.token!) ? args.token! : "00000000-0000-0000-0000-000000000000")
          .executeTakeFirst();
        if (!token) throw tokenNotFound(args.token!);
        if (token.revoked_at) return deny(`no: token ${token.id} is revoked`);
        if (token.expired) return deny(`no: token ${token.id} has expired`);
        if (token.disabled) return deny(`no: the token's owner '${token.username}' is disabled`);
        principal = { id: token.user_id, username: token.username, groups: await groupsOf(db, token.user_id), via: "token", tokenId: token.id, tokenRoutes: token.routes };
        who = `token ${token.id} of '${token.username}'`;
      }
      const decision = decide(route.rule, principal);
      const line = `${who} ${decision.outcome === "allow" ? "may" : "may not"} call '${route.name}' (${route.method} ${route.path}): ${decision.because}`;
      if (decision.outcome === "allow") console.log(`yes: ${line}`);
      else deny(`no: ${line}`);
    });
  },
});

function deny(line: string): void {
  console.log(line);
  process.exitCode = 1;
}

async function groupsOf(db: Parameters<typeof findUser>[0], userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom("group_members")
    .innerJoin("groups", "groups.id", "group_members.group_id")
    .select("groups.name")
    .where("group_members.user_id", "=", userId)
    .execute();
  return rows.map((r) => r.name);
}
