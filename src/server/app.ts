// Builds the Elysia app from the route table: every route mounted once through runRoute (and so through the
// guard), one error handler for what Elysia itself refuses, one access-log line per request, and a start-up
// self-test that refuses to serve if any mounted route escaped the table.
import { Elysia } from "elysia";
import type { Logger } from "./logger.ts";
import { type RequestFacts, requestIdFor } from "./request-context.ts";
import { prefersHtml, problemResponse } from "./respond.ts";
import type { RouteEntry } from "./route-table.ts";
import { type RouteServices, errorResponse, runRoute } from "./run-route.ts";
import { applyCommonHeaders } from "./security-headers.ts";

export interface AppOptions {
  services: RouteServices;
  table: readonly RouteEntry[];
  /** Where access-log lines go (defaults to services.log). */
  accessLog?: Logger;
}

export function createApp({ services, table, accessLog = services.log }: AppOptions) {
  const facts = new WeakMap<Request, RequestFacts>();
  const factsOf = (request: Request): RequestFacts => {
    let found = facts.get(request);
    if (!found) {
      found = { requestId: requestIdFor(request), startedAt: performance.now() };
      facts.set(request, found);
    }
    return found;
  };

  const app = new Elysia({ normalize: false })
    .onRequest(({ request }) => void factsOf(request))
    .onError(({ code, request, error }) => {
      // Answers made here skip mapResponse: stamp them the same way.
      const info = factsOf(request);
      const asHtml = prefersHtml(request);
      let response: Response;
      if (code === "NOT_FOUND") response = notFoundOrWrongMethod(table, request, info.requestId, asHtml);
      else if (code === "PARSE")
        response = problemResponse({ status: 400, code: "malformed_body", detail: "the request body could not be read" }, info.requestId, asHtml);
      else response = errorResponse(error, services.log, info, asHtml);
      applyCommonHeaders(response.headers, info.requestId);
      info.status = response.status;
      return response;
    })
    .onAfterResponse(({ request, set, response }) => {
      const info = factsOf(request);
      const status = info.status ?? (response instanceof Response ? response.status : typeof set.status === "number" ? set.status : 200);
      logRequest(accessLog, request, status, info, services.clientAddress(request));
    })
    .mapResponse(({ request, response }) => {
      // Every answer, whoever produced it, carries the request id and the common protective headers.
      if (response instanceof Response) {
        const info = factsOf(request);
        applyCommonHeaders(response.headers, info.requestId);
        info.status = response.status;
      }
      return response as Response;
    });

  for (const entry of table) {
    app.route(
      entry.method,
      entry.path,
      ({ request, params }: { request: Request; params: Record<string, string> }) =>
        runRoute(entry, services, request, params ?? {}, factsOf(request)),
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
export function assertEveryRouteGuarded(app: Elysia<any, any, any, any, any, any, any>, table: readonly RouteEntry[]): void {
  const guarded = new Set(table.map((e) => `${e.method} ${e.path}`));
  const unguarded = app.routes.filter((r) => !guarded.has(`${r.method} ${r.path}`));
  if (unguarded.length > 0)
    throw new Error(`refusing to start: routes mounted outside the guarded route table: ${unguarded.map((r) => `${r.method} ${r.path}`).join(", ")}`);
}

function notFoundOrWrongMethod(table: readonly RouteEntry[], request: Request, requestId: string, asHtml: boolean): Response {
  const path = new URL(request.url).pathname;
  const allowed = table.filter((e) => e.pattern.test(path)).map((e) => e.method);
  if (allowed.length > 0)
    return problemResponse(
      { status: 405, code: "method_not_allowed", detail: `this path answers ${allowed.join(", ")}`, headers: { Allow: allowed.join(", ") } },
      requestId,
      asHtml,
    );
  return problemResponse({ status: 404, code: "not_found", detail: "there is nothing at this address" }, requestId, asHtml);
}

function logRequest(log: Logger, request: Request, status: number, info: RequestFacts, client: string | undefined): void {
  const url = request.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const queryStart = url.indexOf("?", pathStart);
  const fields: Record<string, unknown> = {
    method: request.method,
    // The path only: query strings can carry things that must not be logged.
    path: queryStart === -1 ? url.slice(pathStart) : url.slice(pathStart, queryStart),
    route: info.route ?? null,
    status,
    duration_ms: Math.round((performance.now() - info.startedAt) * 100) / 100,
    request_id: info.requestId,
    principal: info.principal ? info.principal.username : null,
  };
  if (client) fields.client = client;
  if (status === 401 || status === 403) {
    fields.auth_tried = info.authTried ?? [];
    fields.denied_because = info.deniedBecause ?? null;
  }
  log.info("request", fields);
}
