// The one module that turns a failure into an answer: ours (EndpointError), Elysia's (a path or method it does not
// serve, a body it cannot parse), a lost database, or a bug. The answer is application/problem+json, or an HTML
// error page when a browser asked for HTML; it says a code and one sentence, never a cause (that goes to the log,
// under the request id). The HTML page shows the caller's own header (their name, Admin, Sign out) when the
// pipeline knows who is calling.
import { isConnectionFailure } from "../../db/errors.ts";
import { ReauthRequired } from "../accounts/sudo.ts";
import { EndpointError, type FieldError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { AuthResult } from "../auth/authenticator.ts";
import type { Config } from "../config/schema.ts";
import { ErrorPage, type PageCaller } from "../pages/error-page.tsx";
import type { RequestFacts } from "./request-context.ts";
import { CONTENT_SECURITY_POLICY } from "./security-headers.ts";

export const PROBLEM_TYPE_BASE = "https://endpoint.dev/problems/";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * Whether a page shows this failure itself, re-rendered with the message: an expected refusal, but not a request
 * for the password (sudo mode), which the pipeline answers with the confirmation page.
 */
export const isShownOnPage = (error: unknown): error is EndpointError =>
  error instanceof EndpointError && error.status < 500 && !(error instanceof ReauthRequired);

export const statusTitle = (status: number) => TITLES[status] ?? "Error";

export interface Problem {
  status: number;
  code: string;
  detail: string;
  fields?: FieldError[];
  headers?: Record<string, string>;
}

/** Whether the client would rather read HTML than JSON (a browser navigating, not a script). */
export function prefersHtml(request: Request): boolean {
  const accept = request.headers.get("accept");
  if (!accept) return false;
  const html = accept.indexOf("text/html");
  if (html === -1) return false;
  const json = accept.indexOf("application/json");
  return json === -1 || html < json;
}

/**
 * Who an error page is for, from what authentication found. Undefined (not known) when the route does not read the
 * session cookie: "nobody signed in" would then be a guess. Made only when a failure is answered, from memory.
 */
export function pageCaller(auth: AuthResult, route: { rule: { accepts: readonly string[] } }, config: Pick<Config, "auth">): PageCaller | undefined {
  const { principal } = auth;
  if (!principal && !route.rule.accepts.includes("session")) return undefined;
  return { principal, csrfToken: auth.session?.csrfToken ?? null, isAdmin: principal?.groups.includes(config.auth.adminGroup) ?? false };
}

/** The answer for `problem`; `caller` is who an HTML page is for (undefined: not known, e.g. no route matched). */
export function problemResponse(problem: Problem, requestId: string, asHtml: boolean, caller?: PageCaller): Response {
  const title = statusTitle(problem.status);
  // A plain object, not a Headers instance: refusals (401, 403) are on the request path too.
  const headers: Record<string, string> = { ...problem.headers, "X-Request-Id": requestId, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin" };
  if (asHtml) {
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY;
    headers["X-Frame-Options"] = "DENY";
    headers["Content-Type"] = "text/html; charset=utf-8";
    const body = ErrorPage({ status: problem.status, title, detail: problem.detail, requestId, caller }) as string;
    return new Response(body, { status: problem.status, headers });
  }
  headers["Content-Type"] = "application/problem+json; charset=utf-8";
  const body: Record<string, unknown> = {
    type: PROBLEM_TYPE_BASE + problem.code,
    title,
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
    request_id: requestId,
  };
  if (problem.fields?.length) body.errors = problem.fields;
  return new Response(JSON.stringify(body), { status: problem.status, headers });
}

/** Map any failure to an answer; unexpected ones are logged with their stack under the request id. */
export function renderFailure(error: unknown, log: Logger, facts: RequestFacts, asHtml: boolean, caller?: PageCaller): Response {
  if (error instanceof EndpointError) {
    if (error instanceof ReauthRequired) facts.refusalReason = "sudo";
    const problem: Problem = { status: error.status, code: error.code, detail: error.message, fields: error.fields };
    if (error.status === 503) problem.headers = { "Retry-After": "5" };
    return problemResponse(problem, facts.requestId, asHtml, caller);
  }
  if (isConnectionFailure(error)) {
    log.error("database_unavailable", { request_id: facts.requestId, route: facts.route, cause: describeCause(error) });
    return problemResponse(
      { status: 503, code: "unavailable", detail: "the database is unavailable; try again shortly", headers: { "Retry-After": "5" } },
      facts.requestId,
      asHtml,
      caller,
    );
  }
  log.error("unhandled_error", {
    request_id: facts.requestId,
    route: facts.route,
    error: describeCause(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
  return problemResponse({ status: 500, code: "internal", detail: `something went wrong on our side; quote request id ${facts.requestId}` }, facts.requestId, asHtml, caller);
}

const describeCause = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

