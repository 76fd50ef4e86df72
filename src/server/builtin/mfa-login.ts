// Sign-in's second step, for users with two-step sign-in (and members of auth.mfa.required_for who must enrol):
// POST /login hands over to GET /login/mfa with a pending-challenge cookie instead of a session; POST /login/mfa
// takes a code (throttled with the passwords) and only then makes the session. CSRF as on /login: our Origin, and
// the form's token equal to the login CSRF cookie.
import type { Kysely } from "kysely";
import type { Database } from "../../../db/schema.ts";
import { confirmEnrolment, enrolmentSecret, mfaRequiredFor, mfaStatus, verifySecondFactor } from "../../accounts/mfa.ts";
import { otpauthUri } from "../../accounts/totp.ts";
import { readCookie } from "../../auth/authenticate.ts";
import { LOGIN_CSRF_COOKIE, loginCsrfCookie, sessionCookie } from "../../auth/cookies.ts";
import { foreignOrigin, secretsEqual } from "../../auth/csrf.ts";
import { MFA_CHALLENGE_COOKIE, type Challenge, challengeCookie, createChallenge, endChallenge, expiredChallengeCookie, loadChallenge } from "../../auth/mfa-challenge.ts";
import { createSession, deleteSession, hashSessionId, looksLikeSessionId } from "../../auth/sessions.ts";
import { attemptSucceeded, reserveAttempt } from "../../auth/throttle.ts";
import type { Config } from "../../config/schema.ts";
import { EndpointError } from "../../errors.ts";
import { type HandlerContext, defineHandler } from "../../handlers/define-handler.ts";
import { html } from "../../handlers/html.ts";
import { MfaCodePage, MfaDonePage, MfaEnrolPage } from "../../pages/mfa-pages.tsx";
import { qrModules } from "../../pages/qr-code.ts";
import { type Route, type RouteSpec, anyone, builtinRoute } from "../route.ts";

export const ISSUER = "Endpoint";
const randomToken = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

/**
 * After a right password: the second step this user owes (a code, or enrolment when a group of theirs requires
 * it), as the challenge cookie to set; null when the password is enough.
 */
export async function secondStepFor(db: Kysely<Database>, config: Config, userId: string, next: string): Promise<string | null> {
  const status = await mfaStatus(db, userId);
  const purpose = status.enrolled ? "verify" : (await mfaRequiredFor(db, userId, config.auth.mfaRequiredFor)) ? "enrol" : null;
  if (!purpose) return null;
  return challengeCookie(config, await createChallenge(db, userId, purpose, next));
}

export function mfaLoginRoutes(config: Config): Route[] {
  /** The page this challenge asks for (the code form, or the enrolment panel), with a fresh login CSRF token. */
  async function page(context: HandlerContext<unknown, unknown, unknown>, challenge: Challenge, status = 200, error?: string, extra: Record<string, string> = {}) {
    const csrfToken = randomToken();
    const headers = { "Cache-Control": "no-store", "Set-Cookie": loginCsrfCookie(config, csrfToken), ...extra };
    if (challenge.purpose === "verify") return html(MfaCodePage({ csrfToken, error }), status, headers);
    const secret = await enrolmentSecret(context.services.db, context.services.mfaKeys, challenge.user);
    const uri = otpauthUri(ISSUER, challenge.user.username, secret);
    return html(MfaEnrolPage({ enrolment: { secret, uri, qr: qrModules(uri), action: "/login/mfa", csrfToken }, error }), status, headers);
  }
  const backToLogin = () => new Response(null, { status: 303, headers: { Location: "/login", "Cache-Control": "no-store", "Set-Cookie": expiredChallengeCookie(config) } });

  return ([
    {
      name: "login-mfa-page",
      method: "GET",
      path: "/login/mfa",
      access: anyone(["session"]),
      description: "Sign-in's second step: a code from the authenticator app (or enrolment, where required)",
      handler: defineHandler({
        async handle(context) {
          const challenge = await loadChallenge(context.services.db, readCookie(context.request.headers.get("cookie"), MFA_CHALLENGE_COOKIE));
          if (!challenge || challenge.user.disabled) return backToLogin();
          return page(context, challenge);
        },
      }),
    },
    {
      name: "login-mfa",
      method: "POST",
      path: "/login/mfa",
      access: anyone(["session"]),
      description: "Answer sign-in's second step with a code or a recovery code (form post)",
      handler: defineHandler({
        async handle(context) {
          const { request, log, clientAddress, services } = context;
          const { db, cache, mfaKeys } = services;
          const challenge = await loadChallenge(db, readCookie(request.headers.get("cookie"), MFA_CHALLENGE_COOKIE));
          if (!challenge || challenge.user.disabled) return backToLogin();
          let code = "";
          try {
            code = (context.form?.get("code") ?? "").trim();
          } catch (error) {
            if (error instanceof EndpointError) return page(context, challenge, error.status, "That code holds a character that is not allowed.");
            throw error;
          }
          const foreign = foreignOrigin(request, services.origins.expectedFor(request));
          const cookieToken = readCookie(request.headers.get("cookie"), LOGIN_CSRF_COOKIE);
          const formToken = context.form?.get("_csrf");
          if (foreign || !cookieToken || !formToken || !secretsEqual(cookieToken, formToken)) {
            log.warn("login_csrf_rejected", { reason: foreign ?? "missing or wrong form token", client: clientAddress, step: "mfa" });
            context.refusedAs("csrf");
            return page(context, challenge, 403, "Your sign-in form expired or came from another site. Please try again.");
          }
          if (!code || code.length > 64) return page(context, challenge, 400, "Enter the code.");
          const { username } = challenge.user;
          const address = clientAddress ?? "unknown";
          const reservation = await reserveAttempt(db, username, address);
          if (!reservation.allowed) {
            const wait = reservation.retryAfterSeconds;
            log.warn("login_throttled", { username, client: address, retry_after: wait, step: "mfa" });
            return page(context, challenge, 429, `Too many failed sign-ins. Try again in ${Math.ceil(wait / 60)} minute(s).`, { "Retry-After": String(wait) });
          }
          let codes: string[] | null = null;
          if (challenge.purpose === "verify") {
            const result = await verifySecondFactor(db, mfaKeys, challenge.user, code);
            if (!result.ok) {
              log.warn("login_failed", { username, client: address, reason: "wrong code" });
              context.refusedAs("wrong_code");
              return page(context, challenge, 401, "That code is not right, or was already used.");
            }
            if (result.via === "recovery") log.info("mfa_recovery_code_used", { username, client: address, left: result.recoveryCodesLeft });
          } else {
            try {
              // Not signed in yet: the user acts for themself, having just typed their password.
              const actor = { name: username, source: "web" as const, clientAddress, user: { id: challenge.user.id, groups: [] }, recentlyAuthenticated: true };
              codes = await confirmEnrolment(db, mfaKeys, actor, challenge.user, code);
            } catch (error) {
              if (!(error instanceof EndpointError)) throw error;
              log.warn("login_failed", { username, client: address, reason: "wrong code at enrolment" });
              context.refusedAs("wrong_code");
              return page(context, challenge, 401, error.message);
            }
          }
          // Two answers racing with good codes make one session: only the request that ends the challenge goes on.
          if (!(await endChallenge(db, challenge.idHash))) return backToLogin();
          await attemptSucceeded(db, username, address);
          const previous = readCookie(request.headers.get("cookie"), config.auth.cookieName);
          if (previous && looksLikeSessionId(previous)) {
            const hash = hashSessionId(previous);
            await deleteSession(db, hash);
            cache.forgetSession(hash);
          }
          const session = await createSession(db, challenge.user.id, { clientAddress, userAgent: request.headers.get("user-agent") });
          log.info("login_ok", { username, client: address, mfa: challenge.purpose });
          // The challenge row is gone, so its cookie is inert; it and the login CSRF cookie also expire by themselves.
          const cookie = sessionCookie(config, session.cookieValue);
          if (codes) return html(MfaDonePage({ codes, next: challenge.next }), 200, { "Cache-Control": "no-store", "Set-Cookie": cookie });
          const headers = new Headers({ "Cache-Control": "no-store", Location: challenge.next });
          for (const value of [cookie, expiredChallengeCookie(config), `${LOGIN_CSRF_COOKIE}=; Path=/login; Max-Age=0`]) headers.append("Set-Cookie", value);
          return new Response(null, { status: 303, headers });
        },
      }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
