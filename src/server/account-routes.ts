// The account page and its forms: every signed-in user (by session) sees their groups and routes, changes
// their password (the current one required; their other sessions end, their tokens are revoked) and manages
// their own API tokens (a new one is shown once).
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import { findUser, setPassword } from "../admin/users.ts";
import { decide } from "../auth/guard.ts";
import type { PasswordGate } from "../auth/password-gate.ts";
import type { Principal } from "../auth/principal.ts";
import { type TokenCodec, createToken, listTokens, revokeToken } from "../auth/tokens.ts";
import type { Config } from "../config/schema.ts";
import { EndpointError } from "../errors.ts";
import { type HandlerContext, defineHandler } from "../handlers/define-handler.ts";
import { html } from "../handlers/html.ts";
import { type AccountPageProps, AccountPage } from "../pages/account-page.tsx";
import type { BuiltinRoute, RouteEntry } from "./route-table.ts";

export interface AccountServices {
  db: Kysely<Database>;
  codec: TokenCodec;
  gate: PasswordGate;
  table: () => readonly RouteEntry[];
}

type Context = HandlerContext<unknown, unknown, unknown>;
const TOKEN_DAYS = new Set(["7", "30", "90", "365"]);

export function accountRoutes(config: Config, services: () => AccountServices): BuiltinRoute[] {
  const signedIn = { public: false, groups: ["*"], accepts: ["session"] } as const;
  const actorOf = (context: Context) => ({ name: context.principal!.username, source: "web" as const, clientAddress: context.clientAddress ?? null });

  /** Render the page for the caller, with what just happened. */
  async function render(context: Context, extra: Partial<AccountPageProps> = {}, status = 200) {
    const principal = context.principal as Principal;
    const { db, table } = services();
    const routes = table()
      .filter((entry) => entry.origin === "config" && decide(entry.rule, { ...principal, via: "session" }).outcome === "allow")
      .map((entry) => ({ name: entry.name, method: entry.method, path: entry.path }));
    const tokens = await listTokens(db, { username: principal.username });
    return html(AccountPage({ principal, csrfToken: context.session!.csrfToken, routes, tokens, ...extra }), status);
  }

  return [
    {
      name: "account",
      method: "GET",
      path: "/account",
      rule: signedIn,
      description: "Your account: groups, routes, password, tokens",
      handler: defineHandler({ handle: (context) => render(context) }),
    },
    {
      name: "account-password",
      method: "POST",
      path: "/account/password",
      rule: signedIn,
      description: "Change your password (needs the current one)",
      handler: defineHandler({
        async handle(context) {
          const { db, gate } = services();
          const form = context.form;
          const user = await findUser(db, context.principal!.username);
          const current = form?.get("current") ?? "";
          const password = form?.get("password") ?? "";
          if (!user || !(await gate.verify(current, user.password_hash))) return render(context, { error: "Your current password is not right." }, 422);
          if (password !== form?.get("repeat")) return render(context, { error: "The two new passwords differ." }, 422);
          try {
            await setPassword(db, actorOf(context), user.username, password, { keepSession: context.session!.idHash });
          } catch (error) {
            if (error instanceof EndpointError && error.status === 422) return render(context, { error: error.message }, 422);
            throw error;
          }
          return render(context, { notice: "Password changed. Your other sessions have ended and your tokens were revoked." });
        },
      }),
    },
    {
      name: "account-tokens-create",
      method: "POST",
      path: "/account/tokens",
      rule: signedIn,
      description: "Create one of your API tokens (shown once)",
      handler: defineHandler({
        async handle(context) {
          const { db, codec } = services();
          const days = context.form?.get("days") ?? "90";
          if (!TOKEN_DAYS.has(days)) return render(context, { error: "Choose a lifetime from the list." }, 422);
          const seconds = Math.min(Number(days) * 86_400, config.auth.tokenMaxExpirySeconds);
          try {
            const { token } = await createToken(db, codec, actorOf(context), { username: context.principal!.username, name: context.form?.get("name")?.trim() ?? "", expiresInSeconds: seconds });
            return render(context, { newToken: token, notice: "Token created." });
          } catch (error) {
            if (error instanceof EndpointError && error.status === 422) return render(context, { error: error.message }, 422);
            throw error;
          }
        },
      }),
    },
    {
      name: "account-tokens-revoke",
      method: "POST",
      path: "/account/tokens/revoke",
      rule: signedIn,
      description: "Revoke one of your API tokens",
      handler: defineHandler({
        async handle(context) {
          const id = context.form?.get("id") ?? "";
          try {
            await revokeToken(services().db, actorOf(context), id, { ownerId: context.principal!.id });
          } catch (error) {
            if (error instanceof EndpointError && (error.status === 404 || error.status === 409)) return render(context, { error: error.message }, error.status);
            throw error;
          }
          return render(context, { notice: "Token revoked." });
        },
      }),
    },
  ];
}
