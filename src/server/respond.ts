// What a handler returned, as an answer: a Response as is, html() as a page, created() as 201, anything else as
// JSON. Failures are src/server/problem.ts's job.
import { isCreated } from "../handlers/created.ts";
import { type HtmlPage, isHtmlPage } from "../handlers/html.ts";
import { CONTENT_SECURITY_POLICY, applyCommonHeaders } from "./security-headers.ts";

/**
 * Turn what a handler returned into a Response: a Response as is, html() as a page, anything else as JSON.
 * Headers are written when the Response is made (cheaper than adding them afterwards); `personal` answers
 * (for a signed-in caller) must not be stored by caches.
 */
export function valueResponse(value: unknown, requestId: string, personal: boolean): Response | Promise<Response> {
  if (value instanceof Response) {
    // A Response a handler made itself (a redirect, a file): add what every answer carries.
    const headers = value.headers;
    if (!headers.has("x-request-id")) applyCommonHeaders(headers, requestId);
    if (personal && !headers.has("cache-control")) headers.set("Cache-Control", "no-store");
    return value;
  }
  if (isHtmlPage(value)) return pageResponse(value, requestId, personal);
  if (isCreated(value)) {
    const headers = commonHeaders(requestId, personal);
    headers["Content-Type"] = "application/json; charset=utf-8";
    if (value.location) headers.Location = value.location;
    return new Response(JSON.stringify(value.body), { status: 201, headers });
  }
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

function pageResponse(page: HtmlPage, requestId: string, personal: boolean): Response | Promise<Response> {
  const headers = commonHeaders(requestId, personal);
  headers["Content-Type"] = "text/html; charset=utf-8";
  headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY;
  headers["X-Frame-Options"] = "DENY";
  if (page.headers) Object.assign(headers, page.headers);
  // JSX renders to a string unless a component is async: no promise for the common case.
  if (typeof page.body === "string") return new Response(page.body, { status: page.status, headers });
  return page.body.then((body) => new Response(body, { status: page.status, headers }));
}
