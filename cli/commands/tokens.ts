// token create | list | revoke: API tokens for remote services.
import { defineCommand } from "citty";
import { resolveSecrets } from "../../src/auth/secret.ts";
import { accountRules } from "../../src/accounts/rules.ts";
import { listTokens, revokeToken } from "../../src/accounts/tokens.ts";
import { issueToken } from "../../src/auth/issue-token.ts";
import { TokenCodec } from "../../src/auth/token-codec.ts";
import { parseDuration } from "../../src/config/durations.ts";
import { command } from "../command.ts";
import { cliActor, withDatabase } from "../database.ts";
import { CommandError, UsageError } from "../errors.ts";
import { loadOptionalConfig, rulesFor } from "../options.ts";
import { printJson, printTable } from "../output.ts";

const iso = (d: Date | null) => (d ? d.toISOString() : "-");

export const tokenCommand = defineCommand({
  meta: { name: "token" },
  subCommands: {
    create: command({
      name: "create",
      description: "Create an API token for a user and print it once (it cannot be shown again)",
      args: {
        username: { type: "string", description: "The token's owner; it acts with their groups", required: true, valueHint: "U" },
        name: { type: "string", description: "What the token is for, e.g. ci-deploy", required: true, valueHint: "N" },
        expires: { type: "string", description: "Lifetime, e.g. 30d, 12h (default: auth.tokens.default_expiry, 90d)", valueHint: "DURATION" },
        routes: { type: "string", description: "Comma-separated route names the token is limited to (default: any its owner may call)", valueHint: "NAMES" },
      } as const,
      async run({ args }) {
        const config = await loadOptionalConfig(args, true);
        if (!config) throw new CommandError("token create needs the config (route names, token limits): no ./endpoint.yaml here; pass --config PATH");
        let expiresInSeconds = config.auth.tokenDefaultExpirySeconds;
        if (args.expires !== undefined) {
          const parsed = parseDuration(args.expires);
          if (parsed === null || parsed <= 0) throw new UsageError(`--expires must be a duration such as 30d, 12h or 45m (got '${args.expires.slice(0, 40)}')`);
          expiresInSeconds = parsed;
        }
        if (expiresInSeconds > config.auth.tokenMaxExpirySeconds)
          throw new CommandError(`--expires is longer than the allowed maximum (auth.tokens.max_expiry, ${Math.floor(config.auth.tokenMaxExpirySeconds / 86400)}d)`);
        const routes = args.routes?.split(",").map((r) => r.trim()).filter(Boolean);
        const codec = new TokenCodec(resolveSecrets(config, { mode: process.env.NODE_ENV === "production" ? "production" : "development" }));
        const knownRoutes = config.routes.map((r) => r.name);
        await withDatabase(args, async ({ db }) => {
          const { token, summary } = await issueToken(db, codec, accountRules(config), cliActor(), {
            username: args.username,
            name: args.name,
            expiresInSeconds,
            defaultExpirySeconds: config.auth.tokenDefaultExpirySeconds,
            maxExpirySeconds: config.auth.tokenMaxExpirySeconds,
            routes,
            knownRoutes,
          });
          console.error(`token ${summary.id} created for '${summary.owner}', expires ${summary.expires_at.toISOString()}${summary.routes ? `, limited to ${summary.routes.join(", ")}` : ""}`);
          console.error("copy it now: it is shown only this once");
          console.log(token);
        });
      },
    }),
    list: command({
      name: "list",
      description: "List tokens (never the tokens themselves)",
      args: {
        username: { type: "string", description: "Only this user's tokens", valueHint: "U" },
        json: { type: "boolean", description: "Print JSON" },
      } as const,
      async run({ args }) {
        await withDatabase(args, async ({ db }) => {
          const tokens = await listTokens(db, { username: args.username });
          if (args.json) return printJson(tokens);
          printTable(
            ["ID", "OWNER", "NAME", "ROUTES", "CREATED", "EXPIRES", "LAST USED", "REVOKED"],
            tokens.map((t) => [t.id, t.owner, t.name, t.routes?.join(",") ?? "*", iso(t.created_at), iso(t.expires_at), iso(t.last_used_at), iso(t.revoked_at)]),
          );
        });
      },
    }),
    revoke: command({
      name: "revoke",
      description: "Revoke a token; every instance refuses it within a second",
      args: { id: { type: "string", description: "The token's id (from token list)", required: true, valueHint: "ID" } } as const,
      async run({ args }) {
        const rules = await rulesFor(args);
        await withDatabase(args, async ({ db }) => {
          await revokeToken(db, rules, cliActor(), args.id);
          console.log(`token ${args.id} revoked`);
        });
      },
    }),
  },
});
