// The Set-Cookie lines Endpoint sends. The session cookie is HttpOnly, SameSite=Lax, Path=/, no Domain, and
// Secure whenever the public URL is https (so also behind nginx, where the app itself sees plain http).
import type { Config } from "../config/schema.ts";

export const LOGIN_CSRF_COOKIE = "endpoint_login_csrf";

export function sessionCookie(config: Config, value: string): string {
  return [
    `${config.auth.cookieName}=${value}`,
    "Path=/",
    `Max-Age=${config.auth.sessionAbsoluteSeconds}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(config.auth.cookieSecure ? ["Secure"] : []),
  ].join("; ");
}

/** Ends the session cookie in the browser: same name and path, no value, expired. */
export function expiredSessionCookie(config: Config): string {
  return [`${config.auth.cookieName}=`, "Path=/", "Max-Age=0", "HttpOnly", "SameSite=Lax", ...(config.auth.cookieSecure ? ["Secure"] : [])].join("; ");
}

/** The login form's double-submit token: the form field must equal this cookie (login CSRF). */
export function loginCsrfCookie(config: Config, value: string): string {
  return [`${LOGIN_CSRF_COOKIE}=${value}`, "Path=/login", "Max-Age=3600", "HttpOnly", "SameSite=Strict", ...(config.auth.cookieSecure ? ["Secure"] : [])].join("; ");
}
