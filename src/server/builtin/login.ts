// Built-in routes for browser sessions: the sign-in page and form, sign out, and sign out everywhere.
import { findUser } from "../../accounts/users.ts";
import { LOGIN_CSRF_COOKIE, expiredSessionCookie, loginCsrfCookie, sessionCookie } from "../../auth/cookies.ts";
import { foreignOrigin, secretsEqual } from "../../auth/csrf.ts";
import { readCookie } from "../../auth/authenticate.ts";
import { safeNextPath } from "../../auth/redirects.ts";
import { createSession, deleteSession, endUserSessions, hashSessionId, looksLikeSessionId } from "../../auth/sessions.ts";
import { attemptSucceeded, giveBackAttempt, judgeAttempt, reserveAttempt } from "../../auth/throttle.ts";
import type { Config } from "../../config/schema.ts";
import { EndpointError } from "../../errors.ts";
import { defineHandler } from "../../handlers/define-handler.ts";
import { html } from "../../handlers/html.ts";
import { LoginPage } from "../../pages/login-page.tsx";
import { type Route, type RouteSpec, builtinRoute, anyone, signedIn } from "../route.ts";
import { secondStepFor } from "./mfa-login.ts";

const randomToken = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
const WRONG = "Wrong username or password.";

export function loginRoutes(config: Config): Route[] {
  /** The sign-in page, with a fresh login CSRF token in its form and its cookie. */
  const page = (next: string, status: number, error?: string, username?: string, headers: Record<string, string> = {}) => {
    const csrfToken = randomToken();
    return html(LoginPage({ csrfToken, next, error, username }), status, { "Cache-Control": "no-store", "Set-Cookie": loginCsrfCookie(config, csrfToken), ...headers });
  };
  const redirect = (location: string, cookies: string[] = []) => {
    const headers = new Headers({ Location: location, "Cache-Control": "no-store" });
    for (const cookie of cookies) headers.append("Set-Cookie", cookie);
    return new Response(null, { status: 303, headers });
  };
  const signedInOnly = signedIn(["session"]);

  return ([
    {
      name: "login-page",
      method: "GET",
      path: "/login",
      access: anyone(["session"]),
      description: "The sign-in page",
      handler: defineHandler({
        handle({ request, caller }) {
          const next = safeNextPath(new URL(request.url).searchParams.get("next"), config.server.publicUrl);
          if (caller) return redirect(next);
          return page(next, 200);
        },
      }),
    },
    {
      name: "login",
      method: "POST",
      path: "/login",
      access: anyone(["session"]),
      description: "Sign in with a username and password (form post)",
      handler: defineHandler({
        async handle(context) {
          const { request, form, log, clientAddress, services } = context;
          const { db, cache, gate } = services;
          let next = "/";
          let username = "";
          let password = "";
          try {
            next = safeNextPath(form?.get("next"), config.server.publicUrl);
            username = form?.get("username")?.trim() ?? "";
            password = form?.get("password") ?? "";
          } catch (error) {
            // A field PostgreSQL would refuse (NUL): the form again, with the reason.
            if (error instanceof EndpointError) return page(next, error.status, "Your username or password holds a character that is not allowed.");
            throw error;
          }
          // Login CSRF: the form must come from our page (Origin) and echo the token its cookie holds.
          const foreign = foreignOrigin(request, services.origins.expectedFor(request));
          const cookieToken = readCookie(request.headers.get("cookie"), LOGIN_CSRF_COOKIE);
          const formToken = form?.get("_csrf");
          if (foreign || !cookieToken || !formToken || !secretsEqual(cookieToken, formToken)) {
            log.warn("login_csrf_rejected", { reason: foreign ?? "missing or wrong form token", client: clientAddress });
            context.refusedAs("csrf");
            return page(next, 403, "Your sign-in form expired or came from another site. Please try again.");
          }
          if (!username || !password || username.length > 64 || password.length > 1024)
            return page(next, 400, "Enter your username and password.", username.slice(0, 64));
          const address = clientAddress ?? "unknown";
          // Reserve the attempt before hashing: a locked-out caller costs one statement, not an argon2 run, and
          // concurrent guesses each count.
          const reservation = await reserveAttempt(db, username, address);
          if (!reservation.allowed) {
            const wait = reservation.retryAfterSeconds;
            log.warn("login_throttled", { username, client: address, retry_after: wait });
            return page(next, 429, `Too many failed sign-ins. Try again in ${Math.ceil(wait / 60)} minute(s).`, username, { "Retry-After": String(wait) });
          }
          const user = await findUser(db, username);
          const ok = await judgeAttempt(db, username, address, () => gate.verify(password, user?.password_hash ?? null));
          if (!ok || !user || user.disabled) {
            log.warn("login_failed", { username, client: address, reason: !user ? "unknown user" : user.disabled ? "disabled" : "wrong password" });
            // One label for all three, as the page says: /metrics must not tell names that exist from names that do not.
            context.refusedAs("wrong_password");
            return page(next, 401, WRONG, username);
          }
          // Two-step sign-in: no session yet, only a challenge bound to this browser (see mfa-login.ts).
          const challenge = await secondStepFor(db, config, user.id, next);
          if (challenge) {
            await giveBackAttempt(db, username, address);
            log.info("login_password_ok", { username: user.username, client: address, next_step: "mfa" });
            return redirect("/login/mfa", [challenge]);
          }
          await attemptSucceeded(db, username, address);
          // A fresh id at every login: a cookie planted before sign-in never becomes authenticated.
          const previous = readCookie(request.headers.get("cookie"), config.auth.cookieName);
          if (previous && looksLikeSessionId(previous)) {
            const hash = hashSessionId(previous);
            await deleteSession(db, hash);
            cache.forgetSession(hash);
          }
          const session = await createSession(db, user.id, { clientAddress, userAgent: request.headers.get("user-agent") });
          log.info("login_ok", { username: user.username, client: address });
          return redirect(next, [sessionCookie(config, session.cookieValue), `${LOGIN_CSRF_COOKIE}=; Path=/login; Max-Age=0`]);
        },
      }),
    },
    {
      name: "logout",
      method: "POST",
      path: "/logout",
      access: signedInOnly,
      description: "Sign out (this browser)",
      handler: defineHandler({
        signedIn: true,
        async handle({ session, log, caller, services }) {
          const { db, cache } = services;
          if (session) {
            await deleteSession(db, session.idHash);
            cache.forgetSession(session.idHash);
          }
          log.info("logout", { username: caller.username });
          return redirect("/login", [expiredSessionCookie(config)]);
        },
      }),
    },
    {
      name: "logout-everywhere",
      method: "POST",
      path: "/logout/everywhere",
      access: signedInOnly,
      description: "Sign out on every device",
      handler: defineHandler({
        signedIn: true,
        async handle({ caller, actor, log, services }) {
          const { db, cache } = services;
          const ended = await endUserSessions(db, actor, caller);
          for (const idHash of ended) cache.forgetSession(idHash);
          log.info("logout_everywhere", { username: caller.username, sessions_ended: ended.length });
          return redirect("/login", [expiredSessionCookie(config)]);
        },
      }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
