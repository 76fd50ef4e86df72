// CORS: which other origins' pages may call a route from a browser, by the route's `cors` rule. Preflights are
// answered here from the rule alone (the handler never runs); answers to listed origins get the headers that let
// the page read them; an unlisted origin gets no CORS header at all, so the browser keeps the answer from it.
import type { CorsPolicy } from "../config/schema.ts";
import type { Route } from "./route.ts";

/** Whether `origin` (the request's Origin header) is one `policy` lists. `null` (sandboxed pages, files) never is. */
export function listedOrigin(policy: CorsPolicy, origin: string | null): boolean {
  if (origin === null || origin === "null") return false;
  return policy.origins.includes(origin) || (!policy.credentials && policy.origins.includes("*"));
}

/** Add the CORS headers an actual (non-preflight) answer of a route with a policy carries. */
export function withCorsHeaders(policy: CorsPolicy, request: Request, response: Response): Response {
  const headers = response.headers;
  headers.append("Vary", "Origin");
  const origin = request.headers.get("origin");
  if (!listedOrigin(policy, origin)) return response;
  // The request's own origin, never `*` when credentials are allowed (browsers refuse that pair).
  headers.set("Access-Control-Allow-Origin", policy.credentials || !policy.origins.includes("*") ? origin! : "*");
  if (policy.credentials) headers.set("Access-Control-Allow-Credentials", "true");
  headers.set("Access-Control-Expose-Headers", "X-Request-Id, WWW-Authenticate, Retry-After, RateLimit, RateLimit-Policy");
  return response;
}

/**
 * The answer to a preflight (OPTIONS with Origin and Access-Control-Request-Method) for `path`, or null when it is
 * no preflight or no route of that path has a CORS rule (the caller answers as before: 405). A preflight the rule refuses — an
 * unlisted origin, a method no rule allows — is 403 with no CORS headers, and the browser stops there.
 */
export function preflightAnswer(table: readonly Route[], request: Request, path: string, requestId: string): Response | null {
  const origin = request.headers.get("origin");
  const method = request.headers.get("access-control-request-method");
  if (origin === null || method === null) return null;
  const routes = table.filter((route) => route.cors && route.pattern.test(path));
  if (routes.length === 0) return null;
  const route = routes.find((r) => r.method === method) ?? routes.find((r) => r.cors!.methods.includes(method as Route["method"]));
  const policy = route?.cors;
  const common = { "X-Request-Id": requestId, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", Vary: "Origin" };
  if (!policy || !listedOrigin(policy, origin) || !policy.methods.includes(method as Route["method"]))
    return new Response(null, { status: 403, headers: common });
  const headers: Record<string, string> = {
    ...common,
    "Access-Control-Allow-Origin": policy.credentials || !policy.origins.includes("*") ? origin : "*",
    "Access-Control-Allow-Methods": policy.methods.join(", "),
    "Access-Control-Max-Age": String(policy.maxAgeSeconds),
  };
  if (policy.headers.length) headers["Access-Control-Allow-Headers"] = policy.headers.join(", ");
  if (policy.credentials) headers["Access-Control-Allow-Credentials"] = "true";
  return new Response(null, { status: 204, headers });
}

/**
 * Whether a request to a route with `policy` may ride on the session cookie: always from our own origin (`expected`)
 * or with no Origin; from another origin only when the rule has `credentials: true` and lists it.
 */
export function sessionAllowed(policy: CorsPolicy, request: Request, expected: string): boolean {
  const origin = request.headers.get("origin");
  return origin === null || origin === expected || (policy.credentials && listedOrigin(policy, origin));
}
