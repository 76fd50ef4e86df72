// "Forgot your password?": with auth.mail configured, anyone may ask for a reset link by username or e-mail
// address; it goes to the account's address. The answer is the same page, at once, whether or not an account
// matches (the lookup and the mail happen after it), and requests are throttled per client and per name typed.
import { findUserByEmail } from "../../accounts/emails.ts";
import { createResetLink } from "../../accounts/password-resets.ts";
import { findUser } from "../../accounts/users.ts";
import { readCookie } from "../../auth/authenticate.ts";
import { LOGIN_CSRF_COOKIE, loginCsrfCookie } from "../../auth/cookies.ts";
import { foreignOrigin, secretsEqual } from "../../auth/csrf.ts";
import { reserveResetRequest } from "../../auth/reset-throttle.ts";
import type { Config } from "../../config/schema.ts";
import { EndpointError } from "../../errors.ts";
import { defineHandler } from "../../handlers/define-handler.ts";
import { html } from "../../handlers/html.ts";
import type { Logger } from "../../logger.ts";
import { sendMail } from "../../mail/smtp.ts";
import { ForgotPasswordPage } from "../../pages/reset-page.tsx";
import type { EndpointServices } from "../services.ts";
import { type Route, type RouteSpec, anyone, builtinRoute } from "../route.ts";

const randomToken = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
export const FORGOT_ANSWER = "If an account matches, a password-reset link is on its way to its e-mail address. The link works once, within an hour.";

export function forgotRoutes(config: Config): Route[] {
  const mail = config.auth.mail;
  const page = (session: { csrfToken: string } | null, status = 200, extra: { notice?: string; error?: string } = {}, headers: Record<string, string> = {}) => {
    const common = { "Cache-Control": "no-store", ...headers };
    if (session) return html(ForgotPasswordPage({ csrfToken: session.csrfToken, mailConfigured: !!mail, ...extra }), status, common);
    const csrfToken = randomToken();
    return html(ForgotPasswordPage({ csrfToken, mailConfigured: !!mail, ...extra }), status, { ...common, "Set-Cookie": loginCsrfCookie(config, csrfToken) });
  };

  /** After the answer: find the account, make a link and mail it. Failures are logged, never shown. */
  const sendLink = async (services: EndpointServices, log: Logger, login: string, clientAddress: string | undefined) => {
    const user = login.includes("@") ? await findUserByEmail(services.db, login) : await findUser(services.db, login);
    if (!user || user.disabled || !user.email) {
      log.info("reset_request_unmatched", { client: clientAddress ?? null });
      return;
    }
    const actor = { name: "forgot-password", source: "web" as const, clientAddress, recentlyAuthenticated: false };
    const link = await createResetLink(services.db, actor, user.username, { publicUrl: config.server.publicUrl, mailedToOwner: true });
    await sendMail(mail!, {
      to: user.email,
      subject: "Reset your Endpoint password",
      text: [
        `Someone (perhaps you) asked to reset the password of the Endpoint account '${user.username}' at ${config.server.publicUrl}.`,
        "",
        "To choose a new password, open this link. It works once, until " + link.expiresAt.toISOString() + ":",
        "",
        link.url,
        "",
        "If you did not ask for this, ignore this message: your password stays as it is.",
        "",
      ].join("\n"),
    });
    log.info("reset_mail_sent", { username: user.username, client: clientAddress ?? null });
  };

  return ([
    {
      name: "forgot-page",
      method: "GET",
      path: "/login/forgot",
      access: anyone(["session"]),
      description: "Ask for a password-reset link by e-mail (when auth.mail is set)",
      handler: defineHandler({
        handle({ session }) {
          return page(session);
        },
      }),
    },
    {
      name: "forgot",
      method: "POST",
      path: "/login/forgot",
      access: anyone(["session"]),
      description: "Send a password-reset link to the account's e-mail address; the same answer whether or not it exists",
      handler: defineHandler({
        async handle({ request, form, session, log, clientAddress, services }) {
          if (!mail) throw new EndpointError("not_found", 404, "this server does not send e-mail");
          let login = "";
          try {
            login = form?.get("login")?.trim() ?? "";
          } catch (error) {
            if (error instanceof EndpointError) return page(session, error.status, { error: "Your entry holds a character that is not allowed." });
            throw error;
          }
          if (!session) {
            const foreign = foreignOrigin(request, services.origins.expectedFor(request));
            const cookieToken = readCookie(request.headers.get("cookie"), LOGIN_CSRF_COOKIE);
            const formToken = form?.get("_csrf");
            if (foreign || !cookieToken || !formToken || !secretsEqual(cookieToken, formToken)) {
              log.warn("forgot_csrf_rejected", { reason: foreign ?? "missing or wrong form token", client: clientAddress });
              return page(null, 403, { error: "This form expired or came from another site. Please try again." });
            }
          }
          if (!login || login.length > 254) return page(session, 400, { error: "Enter your username or e-mail address." });
          const reservation = await reserveResetRequest(services.db, login, clientAddress ?? "unknown");
          if (!reservation.allowed) {
            log.warn("reset_request_throttled", { client: clientAddress ?? null, retry_after: reservation.retryAfterSeconds });
            return page(session, 429, { error: `Too many requests. Try again in ${Math.ceil(reservation.retryAfterSeconds / 60)} minute(s).` }, { "Retry-After": String(reservation.retryAfterSeconds) });
          }
          // Not awaited: the answer must not take longer when an account matches.
          void sendLink(services, log, login, clientAddress).catch((error) => log.error("reset_mail_failed", { reason: String((error as Error)?.message ?? error).slice(0, 300) }));
          return page(session, 200, { notice: FORGOT_ANSWER });
        },
      }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
