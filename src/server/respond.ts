// The one place that shapes answers: JSON values, pages, and errors as application/problem+json (or an HTML
// page when a browser asked for HTML). What we show is a code and one sentence; causes go to the log.
import { ReauthRequired } from "../accounts/sudo.ts";
import { EndpointError, type FieldError } from "../errors.ts";
import { type HtmlPage, isHtmlPage } from "../handlers/html.ts";
import { ErrorPage } from "../pages/error-page.tsx";
import { CONTENT_SECURITY_POLICY, applyCommonHeaders, applyHtmlHeaders } from "./security-headers.ts";

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

export function problemResponse(problem: Problem, requestId: string, asHtml: boolean): Response {
  const title = statusTitle(problem.status);
  const headers = new Headers(problem.headers);
  applyCommonHeaders(headers, requestId);
  if (asHtml) {
    applyHtmlHeaders(headers);
    headers.set("Content-Type", "text/html; charset=utf-8");
    const body = ErrorPage({ status: problem.status, title, detail: problem.detail, requestId }) as string;
    return new Response(body, { status: problem.status, headers });
  }
  headers.set("Content-Type", "application/problem+json; charset=utf-8");
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

/**
 * Turn what a handler returned into a Response: a Response as is, html() as a page, anything else as JSON.
 * Headers are written when the Response is made (cheaper than adding them afterwards); `personal` answers
 * (for a signed-in caller) must not be stored by caches.
 */
export async function valueResponse(value: unknown, requestId: string, personal: boolean): Promise<Response> {
  if (value instanceof Response) {
    if (personal && !value.headers.has("cache-control")) value.headers.set("Cache-Control", "no-store");
    return value;
  }
  if (isHtmlPage(value)) return pageResponse(value, requestId, personal);
  if (value === undefined) return new Response(null, { status: 204, headers: commonHeaders(requestId, personal) });
  const headers = commonHeaders(requestId, personal);
  headers["Content-Type"] = "application/json; charset=utf-8";
  return new Response(JSON.stringify(value), { headers });
}

function commonHeaders(requestId: string, personal: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    "X-Request-Id": requestId,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
  };
  if (personal) headers["Cache-Control"] = "no-store";
  return headers;
}

async function pageResponse(page: HtmlPage, requestId: string, personal: boolean): Promise<Response> {
  const headers = commonHeaders(requestId, personal);
  headers["Content-Type"] = "text/html; charset=utf-8";
  headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY;
  headers["X-Frame-Options"] = "DENY";
  if (page.headers) Object.assign(headers, page.headers);
  return new Response(await page.body, { status: page.status, headers });
}
