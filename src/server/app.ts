// Builds the Elysia app from the route table: every route mounted once through runRoute (and so through the
// guard), one error handler for what Elysia itself refuses, one access-log line per request, and a start-up
// self-test that refuses to serve if any mounted route escaped the table.
import { Elysia } from "elysia";
import { EndpointError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type RequestFacts, requestIdFor } from "./request-context.ts";
import type { PageCaller } from "../pages/error-page.tsx";
import { pageCaller, prefersHtml, problemResponse, renderFailure } from "./problem.ts";
import type { Route } from "./route.ts";
import { preflightAnswer, withCorsHeaders } from "./cors.ts";
import { type RouteServices, runRoute } from "./pipeline.ts";

export interface AppOptions {
  services: RouteServices;
  table: readonly Route[];
  /** Where access-log lines go (defaults to services.log). */
  accessLog?: Logger;
}

export function createApp({ services, table, accessLog = services.log }: AppOptions) {
  // server.metrics: off leaves the request path without the counting (and the table without /metrics).
  const metrics = services.config.server.metrics ? services.endpoint.metrics : null;
  /** Log an answer (it carries the request id and the common headers already). */
  const finish = (request: Request, response: Response, info: RequestFacts): Response => {
    // Every answer already carries the request id and the common headers: they are written when it is made.
    logRequest(accessLog, request, response.status, info, services);
    metrics?.observe(info.route, request.method, response.status, info.startedAt, info.refusalReason);
    return response;
  };
  const newFacts = (request: Request): RequestFacts => ({ requestId: requestIdFor(request), startedAt: performance.now() });

  // No lifecycle hooks but the error handler: each hook is a cost on every request, so each route's own
  // handler does the request id, the guard (runRoute) and the access log in one go.
  const app = new Elysia({ normalize: false }).onError(async ({ code, request, error }) => {
    const info = newFacts(request);
    const asHtml = prefersHtml(request);
    let response: Response;
    if (!services.origins.answersFor(request)) response = unknownHost(info.requestId);
    else if (code === "NOT_FOUND")
      // A CORS preflight is answered by the route's rule alone (cors.ts); any other unmatched request is 404 or 405.
      response =
        (request.method === "OPTIONS" ? preflightAnswer(table, request, new URL(request.url).pathname, info.requestId) : null) ??
        notFoundOrWrongMethod(table, request, info.requestId, asHtml, asHtml ? await pageCallerOf(request) : undefined);
    else if (code === "PARSE") response = renderFailure(new EndpointError("malformed_body", 400, "the request body could not be read"), services.log, info, asHtml);
    else response = renderFailure(error, services.log, info, asHtml);
    return finish(request, response, info);
  });

  /** Who a 404 page is for: the session cookie, answered from the auth cache when it can be; unknown if that fails. */
  const pageCallerOf = async (request: Request): Promise<PageCaller | undefined> => {
    try {
      return pageCaller(await services.authenticator.authenticate(request, SESSION_ONLY), { rule: { accepts: SESSION_ONLY } }, services.config);
    } catch {
      return undefined;
    }
  };

  for (const entry of table) {
    app.route(
      entry.method,
      entry.path,
      ({ request, params }: { request: Request; params: Record<string, string> }) => {
        const info = newFacts(request);
        if (!entry.anyHost && !services.origins.answersFor(request)) return finish(request, unknownHost(info.requestId), info);
        const answered = runRoute(entry, services, request, params ?? {}, info);
        const cors = entry.cors;
        if (cors) {
          const decorate = (response: Response) => finish(request, withCorsHeaders(cors, request, response), info);
          return answered instanceof Promise ? answered.then(decorate) : decorate(answered);
        }
        return answered instanceof Promise ? answered.then((response) => finish(request, response, info)) : finish(request, answered, info);
      },
      { parse: "none" },
    );
  }
  assertEveryRouteGuarded(app, table);
  return app;
}

export type EndpointApp = ReturnType<typeof createApp>;

/**
 * Start-up self-test: every route Elysia will answer must be one runRoute guards. A route mounted by hand or by
 * a plugin would skip the guard, so the server refuses to start instead.
 */
export function assertEveryRouteGuarded(app: Elysia<any, any, any, any, any, any, any>, table: readonly Route[]): void {
  const guarded = new Set(table.map((e) => `${e.method} ${e.path}`));
  const unguarded = app.routes.filter((r) => !guarded.has(`${r.method} ${r.path}`));
  if (unguarded.length > 0)
    throw new Error(`refusing to start: routes mounted outside the guarded route table: ${unguarded.map((r) => `${r.method} ${r.path}`).join(", ")}`);
}

/** A Host the server does not answer for: 400, always problem+json (no page, no links built from that Host). */
function unknownHost(requestId: string): Response {
  return problemResponse({ status: 400, code: "unknown_host", detail: "this server does not answer for the host this request was addressed to" }, requestId, false);
}

const SESSION_ONLY = ["session"] as const;

function notFoundOrWrongMethod(table: readonly Route[], request: Request, requestId: string, asHtml: boolean, caller?: PageCaller): Response {
  const path = new URL(request.url).pathname;
  const allowed = table.filter((e) => e.pattern.test(path)).map((e) => e.method);
  if (allowed.length > 0)
    return problemResponse(
      { status: 405, code: "method_not_allowed", detail: `this path answers ${allowed.join(", ")}`, headers: { Allow: allowed.join(", ") } },
      requestId,
      asHtml,
      caller,
    );
  return problemResponse({ status: 404, code: "not_found", detail: "there is nothing at this address" }, requestId, asHtml, caller);
}

function logRequest(log: Logger, request: Request, status: number, info: RequestFacts, services: RouteServices): void {
  const url = request.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const queryStart = url.indexOf("?", pathStart);
  // The path only: query strings can carry things that must not be logged.
  const path = queryStart === -1 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
  const durationMs = Math.round((performance.now() - info.startedAt) * 100) / 100;
  let members =
    `"method":${JSON.stringify(request.method)},"path":${JSON.stringify(path)},"route":${info.route === undefined ? "null" : JSON.stringify(info.route)},` +
    `"status":${status},"duration_ms":${durationMs},"request_id":${JSON.stringify(info.requestId)},"principal":${info.principal ? JSON.stringify(info.principal.username) : "null"}`;
  if (status === 401 || status === 403) {
    // Refusals are security events: say who tried, how, and which rule said no.
    const refusal = { client: services.clientAddress(request) ?? null, auth_tried: info.authTried ?? [], denied_because: info.deniedBecause ?? null };
    members += `,${JSON.stringify(refusal).slice(1, -1)}`;
  } else if (info.rateLimitedBy !== undefined) members += `,"rate_limited_by":${JSON.stringify(info.rateLimitedBy)},"client":${JSON.stringify(services.clientAddress(request) ?? null)}`;
  log.infoEncoded("request", members);
}
