// The account page and its forms: every signed-in user (by session) sees their groups and routes, changes
// their password (the current one required and throttled; their other sessions end, their tokens are revoked),
// sees their sessions and ends any of them (ending this one signs out; "sign out everywhere" is POST
// /logout/everywhere) and manages their own API tokens (a new one is shown once; making one needs a recent password).
import { mfaStatus } from "../../accounts/mfa.ts";
import { accountRules } from "../../accounts/rules.ts";
import { listTokens, revokeToken } from "../../accounts/tokens.ts";
import { setPassword } from "../../accounts/users.ts";
import { expiredSessionCookie } from "../../auth/cookies.ts";
import { decide } from "../../auth/guard.ts";
import { issueToken } from "../../auth/issue-token.ts";
import type { Principal } from "../../auth/principal.ts";
import { endSession, listUserSessions } from "../../auth/sessions.ts";
import type { Config } from "../../config/schema.ts";
import { EndpointError } from "../../errors.ts";
import { type HandlerContext, defineHandler } from "../../handlers/define-handler.ts";
import { type HtmlPage, html, isHtmlPage } from "../../handlers/html.ts";
import { type AccountPageProps, AccountPage } from "../../pages/account-page.tsx";
import { isShownOnPage } from "../problem.ts";
import { type Route, type RouteSpec, builtinRoute, signedIn } from "../route.ts";
import { mfaAccountRoutes } from "./mfa-account.ts";

type Context = HandlerContext<unknown, unknown, unknown, Principal>;
const TOKEN_DAYS = new Set(["7", "30", "90", "365"]);

export function accountRoutes(config: Config): Route[] {
  const rules = accountRules(config);
  const bySession = signedIn(["session"]);

  /** Render the page for the caller, with what just happened. */
  async function render(context: Context, extra: Partial<AccountPageProps> = {}, status = 200, headers?: Record<string, string>) {
    const principal = context.caller;
    const { db, routes } = context.services;
    const callable = routes
      .filter((entry) => entry.origin === "config" && decide(entry.rule, { ...principal, via: "session" }).outcome === "allow")
      .map((entry) => ({ name: entry.name, method: entry.method, path: entry.path }));
    const session = context.session!;
    const [tokens, sessions, mfa] = await Promise.all([
      listTokens(db, { username: principal.username }),
      listUserSessions(db, principal.id, {
        currentIdHash: session.idHash,
        idleSeconds: config.auth.sessionIdleSeconds,
        absoluteSeconds: config.auth.sessionAbsoluteSeconds,
      }),
      mfaStatus(db, principal.id),
    ]);
    const isAdmin = principal.groups.includes(config.auth.adminGroup);
    return html(AccountPage({ principal, csrfToken: session.csrfToken, isAdmin, routes: callable, sessions, tokens, mfa, ...extra }), status, headers);
  }

  /** Run `action`; an expected failure re-renders the page with its message (sudo mode goes up to the pipeline). */
  async function attempt(context: Context, action: () => Promise<Partial<AccountPageProps> | HtmlPage | Response>) {
    try {
      const outcome = await action();
      return isHtmlPage(outcome) || outcome instanceof Response ? outcome : render(context, outcome);
    } catch (error) {
      if (isShownOnPage(error)) return render(context, { error: error.message }, error.status);
      throw error;
    }
  }

  return ([
    {
      name: "account",
      method: "GET",
      path: "/account",
      access: bySession,
      description: "Your account: groups, routes, password, sessions, tokens",
      handler: defineHandler({ signedIn: true, handle: (context) => render(context) }),
    },
    {
      name: "account-password",
      method: "POST",
      path: "/account/password",
      access: bySession,
      description: "Change your password (needs the current one)",
      handler: defineHandler({
        signedIn: true,
        handle: (context) =>
          attempt(context, async () => {
            const { db, passwords } = context.services;
            const current = context.form?.get("current") ?? "";
            const password = context.form?.get("password") ?? "";
            if (password !== context.form?.get("repeat")) throw new EndpointError("passwords_differ", 422, "The two new passwords differ.");
            // The current password is checked like a sign-in: throttled, and it counts as a fresh confirmation.
            const check = await passwords.check(context.caller.username, current, context.clientAddress ?? "unknown", context.session!.idHash);
            if (!check.ok && check.status === 429) return render(context, { error: check.message }, 429, { "Retry-After": String(check.retryAfterSeconds) });
            if (!check.ok) throw new EndpointError("wrong_password", 422, "Your current password is not right.");
            await setPassword(db, context.actor, context.caller.username, password, { keepSession: context.session!.idHash });
            return { notice: "Password changed. Your other sessions have ended and your tokens were revoked." };
          }),
      }),
    },
    {
      name: "account-sessions-end",
      method: "POST",
      path: "/account/sessions/end",
      access: bySession,
      description: "End one of your sessions (this one: sign out)",
      handler: defineHandler({
        signedIn: true,
        handle: (context) =>
          attempt(context, async () => {
            const { db, cache } = context.services;
            const ended = await endSession(db, context.actor, context.caller, context.form?.get("session") ?? "");
            // This instance forgets at once; the others when the delete's NOTIFY reaches them.
            for (const idHash of ended) cache.forgetSession(idHash);
            if (!ended.includes(context.session!.idHash)) return { notice: "Session ended." };
            return new Response(null, { status: 303, headers: { Location: "/login", "Cache-Control": "no-store", "Set-Cookie": expiredSessionCookie(config) } });
          }),
      }),
    },
    {
      name: "account-tokens-create",
      method: "POST",
      path: "/account/tokens",
      access: bySession,
      description: "Create one of your API tokens (shown once)",
      handler: defineHandler({
        signedIn: true,
        handle: (context) =>
          attempt(context, async () => {
            const { db, codec } = context.services;
            const days = context.form?.get("days") ?? "90";
            if (!TOKEN_DAYS.has(days)) throw new EndpointError("invalid_input", 422, "Choose a lifetime from the list.");
            const { token } = await issueToken(db, codec, rules, context.actor, {
              username: context.caller.username,
              name: context.form?.get("name")?.trim() ?? "",
              expiresInSeconds: Math.min(Number(days) * 86_400, config.auth.tokenMaxExpirySeconds),
              defaultExpirySeconds: config.auth.tokenDefaultExpirySeconds,
              maxExpirySeconds: config.auth.tokenMaxExpirySeconds,
            });
            return { newToken: token, notice: "Token created." };
          }),
      }),
    },
    {
      name: "account-tokens-revoke",
      method: "POST",
      path: "/account/tokens/revoke",
      access: bySession,
      description: "Revoke one of your API tokens",
      handler: defineHandler({
        signedIn: true,
        handle: (context) =>
          attempt(context, async () => {
            context.services.cache.forgetTokens(await revokeToken(context.services.db, rules, context.actor, context.form?.get("id") ?? "", { ownOnly: true }));
            return { notice: "Token revoked." };
          }),
      }),
    },
    ...mfaAccountRoutes(config, render, attempt),
  ] satisfies RouteSpec[]).map(builtinRoute);
}
