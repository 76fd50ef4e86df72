// The page a one-time password-reset link opens (/login/reset?token=…) and its form. The token travels in the
// query string and the form body, neither of which the access log records, and no Referer carries it.
// A link that no longer works gets a page that says why, never the form.
import { inspectResetLink, resetLinkRefused, useResetLink } from "../../accounts/password-resets.ts";
import { readCookie } from "../../auth/authenticate.ts";
import { LOGIN_CSRF_COOKIE, loginCsrfCookie } from "../../auth/cookies.ts";
import { foreignOrigin, secretsEqual } from "../../auth/csrf.ts";
import type { Config } from "../../config/schema.ts";
import { EndpointError } from "../../errors.ts";
import { defineHandler } from "../../handlers/define-handler.ts";
import { html } from "../../handlers/html.ts";
import { ResetDonePage, ResetPasswordPage, ResetRefusedPage } from "../../pages/reset-page.tsx";
import { type Route, type RouteSpec, anyone, builtinRoute } from "../route.ts";

const randomToken = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
// The token is in this page's address: no Referer may carry it to a link's target, and no cache may keep it.
const PRIVATE = { "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" };
// The form's page sends the origin alone, never the address: under no-referrer a browser posts the form with
// `Origin: null`, which the CSRF check below rightly refuses, so the form could never be used.
const FORM_PAGE = { ...PRIVATE, "Referrer-Policy": "strict-origin" };

export function resetRoutes(config: Config): Route[] {
  /**
   * The form, with a CSRF token: the session's when someone is signed in (the pipeline checks it), else a fresh
   * double-submit token in the sign-in form's cookie (Path=/login covers /login/reset).
   */
  const form = (token: string, username: string, session: { csrfToken: string } | null, status = 200, error?: string) => {
    if (session) return html(ResetPasswordPage({ token, username, csrfToken: session.csrfToken, error }), status, FORM_PAGE);
    const csrfToken = randomToken();
    return html(ResetPasswordPage({ token, username, csrfToken, error }), status, { ...FORM_PAGE, "Set-Cookie": loginCsrfCookie(config, csrfToken) });
  };
  const refused = (error: EndpointError) => {
    const reason =
      error.code === "reset_link_used"
        ? "This password-reset link has already been used. Each link works only once."
        : error.code === "reset_link_expired"
          ? "This password-reset link has expired."
          : error.code === "account_disabled"
            ? "This account is disabled, so its password cannot be reset. Ask an administrator."
            : "This password-reset link is not valid. Check that you copied all of it.";
    return html(ResetRefusedPage({ reason }), error.status, PRIVATE);
  };

  return ([
    {
      name: "reset-page",
      method: "GET",
      path: "/login/reset",
      access: anyone(["session"]),
      description: "The form a one-time password-reset link opens",
      handler: defineHandler({
        async handle({ request, session, services }) {
          const token = new URL(request.url).searchParams.get("token");
          const link = await inspectResetLink(services.db, token);
          if (link.state !== "valid") return refused(resetLinkRefused(link.state));
          return form(token!, link.username, session);
        },
      }),
    },
    {
      name: "reset",
      method: "POST",
      path: "/login/reset",
      access: anyone(["session"]),
      description: "Set a new password with a one-time reset link (form post); the account's sessions end",
      handler: defineHandler({
        async handle({ request, form: fields, session, log, clientAddress, services }) {
          let token = "";
          let password = "";
          let repeat = "";
          try {
            token = fields?.get("token") ?? "";
            password = fields?.get("password") ?? "";
            repeat = fields?.get("repeat") ?? "";
          } catch (error) {
            // A field PostgreSQL would refuse (NUL): the link stays unused; say why.
            if (error instanceof EndpointError) return refused(resetLinkRefused("unknown"));
            throw error;
          }
          const link = await inspectResetLink(services.db, token);
          if (link.state !== "valid") return refused(resetLinkRefused(link.state));
          // Without a session the pipeline checked nothing: the form must come from our page (Origin) and echo
          // the token its cookie holds, as the sign-in form does.
          if (!session) {
            const foreign = foreignOrigin(request, services.origins.expectedFor(request));
            const cookieToken = readCookie(request.headers.get("cookie"), LOGIN_CSRF_COOKIE);
            const formToken = fields?.get("_csrf");
            if (foreign || !cookieToken || !formToken || !secretsEqual(cookieToken, formToken)) {
              log.warn("reset_csrf_rejected", { reason: foreign ?? "missing or wrong form token", client: clientAddress });
              return form(token, link.username, null, 403, "This form expired or came from another site. Please try again.");
            }
          }
          if (password !== repeat) return form(token, link.username, session, 422, "The two passwords differ.");
          try {
            const username = await useResetLink(services.db, { source: "web", clientAddress, recentlyAuthenticated: false }, token, password);
            log.info("password_reset", { username, client: clientAddress ?? null });
          } catch (error) {
            if (error instanceof EndpointError && error.status === 422) return form(token, link.username, session, 422, error.message);
            if (error instanceof EndpointError && (error.status === 404 || error.status === 410 || error.code === "account_disabled")) return refused(error);
            throw error;
          }
          return html(ResetDonePage(), 200, PRIVATE);
        },
      }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
