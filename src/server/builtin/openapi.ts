// The OpenAPI 3.0 document at /api/openapi.json, generated from the route table itself: every route with its
// parameters and body, its success answer (from the handler's `response`), the problem+json answers its rule and
// input can give, and its security (session cookie and/or bearer token). With `server.openapi: authenticated` a
// caller sees only the routes they may call.
import { Kind, type TSchema } from "@sinclair/typebox";
import { decide } from "../../auth/guard.ts";
import type { Principal } from "../../auth/principal.ts";
import type { Config } from "../../config/schema.ts";
import { defineHandler } from "../../handlers/define-handler.ts";
import { type Route, type RouteSpec, anyone, builtinRoute, signedIn } from "../route.ts";
import { toOpenApiSchema } from "./openapi-schema.ts";

type OpenApiObject = Record<string, unknown>;

const problemSchema = {
  type: "object",
  description: "An error (RFC 9457): a code to act on and one sentence for people; submitted values are never echoed",
  required: ["type", "title", "status", "detail", "code", "request_id"],
  properties: {
    type: { type: "string", format: "uri" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    code: { type: "string", description: "What went wrong, e.g. user_not_found, last_admin, reauth_required" },
    request_id: { type: "string", description: "The X-Request-Id under which the server logged this request" },
    errors: {
      type: "array",
      description: "Each field that was not valid",
      items: {
        type: "object",
        required: ["path", "message"],
        properties: { path: { type: "string", example: "/body/username" }, message: { type: "string" } },
      },
    },
  },
};

const problem = (description: string, headers?: OpenApiObject) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});

/** Every error answer a route can give, by status: the shared responses of components.responses. */
const PROBLEMS: Record<number, [name: string, response: OpenApiObject]> = {
  400: ["BadRequest", problem("A Host this server does not answer for (unknown_host), or a body that is empty or not JSON")],
  401: [
    "Unauthenticated",
    problem("No valid credentials this route accepts", {
      "WWW-Authenticate": { description: "On routes that accept tokens: Bearer", schema: { type: "string" } },
    }),
  ],
  403: [
    "Forbidden",
    problem("Known but not allowed: not in the route's groups, a token limited to other routes, no CSRF token with the session, or a session that must confirm its password (reauth_required)"),
  ],
  404: ["NotFound", problem("Nothing by that name or id")],
  409: ["Conflict", problem("The change breaks a rule: the name is taken, the last active administrator, already a member…")],
  413: ["ContentTooLarge", problem("The body is larger than server.body_limit")],
  415: ["UnsupportedMediaType", problem("The body is not application/json")],
  422: ["Invalid", problem("A value is not valid; `errors` names each field")],
  429: [
    "TooManyRequests",
    problem("Over one of the route's rate limits (rate_limited); not answered, try again after Retry-After", {
      "Retry-After": { description: "Seconds until the limit that refused the request lets one through again", schema: { type: "integer" } },
      "RateLimit-Policy": { $ref: "#/components/headers/RateLimit-Policy" },
      RateLimit: { $ref: "#/components/headers/RateLimit" },
    }),
  ],
  503: [
    "Unavailable",
    problem("The database is unavailable; try again shortly", {
      "Retry-After": { description: "Seconds to wait", schema: { type: "integer" } },
    }),
  ],
};

/** The headers every answer of a rate-limited route carries once the guard let it through (IETF draft-ietf-httpapi-ratelimit-headers). */
const RATE_LIMIT_HEADERS = {
  "RateLimit-Policy": {
    description: 'The route\'s limits, one item per limit: its name, q (requests per window) and w (the window in seconds), e.g. "token-60s";q=100;w=60',
    schema: { type: "string", example: '"token-60s";q=100;w=60' },
  },
  RateLimit: {
    description: 'What is left of each limit for this caller: its name, r (requests remaining) and t (seconds until the window ends), e.g. "token-60s";r=42;t=37',
    schema: { type: "string", example: '"token-60s";r=42;t=37' },
  },
};
const rateLimitHeaderRefs = Object.fromEntries(Object.keys(RATE_LIMIT_HEADERS).map((name) => [name, { $ref: `#/components/headers/${name}` }]));

const SUCCESS: Record<number, string> = { 200: "OK", 201: "Created", 202: "Accepted" };

/**
 * The success answers the handler declares. `response` is the JSON body, answered 200 unless the schema says
 * otherwise with `"x-status"`: a handler returning `created(…)` declares `{ "x-status": 201 }`, a PUT that creates
 * or finds `{ "x-status": [201, 200] }`. `t.Undefined()` is the empty 204 a handler gives by returning nothing.
 */
function successResponses(route: Route): Array<[status: string, response: OpenApiObject]> {
  // A rate-limited route tells every caller it admits how much of each limit is left.
  const headers = route.rateLimits.length > 0 ? { headers: rateLimitHeaderRefs } : {};
  const schema = route.handler.response as (TSchema & { "x-status"?: number | number[] }) | undefined;
  if (!schema) return [["200", { description: "Success", ...headers }]];
  if (schema[Kind] === "Undefined" || schema[Kind] === "Void") return [["204", { description: "No content", ...headers }]];
  const content = { "application/json": { schema: toOpenApiSchema(schema) } };
  return [schema["x-status"] ?? 200].flat().map((status) => [String(status), { description: SUCCESS[status] ?? "Success", ...headers, content }]);
}

/** The statuses, besides success, that the pipeline (and for built-ins, the accounts rules) can answer this route. */
function errorStatuses(route: Route): number[] {
  const changes = route.method !== "GET";
  const hasPathParameters = route.path.includes("/:");
  const { handler, rule } = route;
  const statuses: number[] = [];
  // 400: a Host the server does not answer for (every route but the health probes), or a body that is not JSON.
  if (handler.body || !route.anyHost) statuses.push(400);
  if (!rule.public) statuses.push(401, 403);
  else if (changes && rule.accepts.includes("session")) statuses.push(403); // the CSRF check
  if (hasPathParameters) statuses.push(404);
  // Every change the REST API makes goes through a rule of src/accounts/ that answers 409 when broken.
  if (changes && route.origin === "builtin" && route.path.startsWith("/api/")) statuses.push(409);
  if (changes) statuses.push(413);
  if (handler.body) statuses.push(415);
  if (hasPathParameters || handler.params || handler.query || handler.body || changes) statuses.push(422);
  if (route.rateLimits.length > 0) statuses.push(429);
  // Credentials are checked against the database when the cache cannot answer, and changes are written there.
  if (!rule.public || changes) statuses.push(503);
  return statuses;
}

function parameters(route: Route): OpenApiObject[] {
  const list: OpenApiObject[] = [];
  const pathNames = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const paramSchemas = (route.handler.params as { properties?: Record<string, TSchema> } | undefined)?.properties ?? {};
  for (const name of pathNames) list.push({ name, in: "path", required: true, schema: paramSchemas[name] ? toOpenApiSchema(paramSchemas[name]) : { type: "string" } });
  const query = route.handler.query as { properties?: Record<string, TSchema>; required?: string[] } | undefined;
  for (const [name, schema] of Object.entries(query?.properties ?? {}))
    list.push({ name, in: "query", required: query?.required?.includes(name) ?? false, schema: toOpenApiSchema(schema) });
  if (route.method !== "GET" && route.rule.accepts.includes("session"))
    list.push({ name: "X-CSRF-Token", in: "header", required: false, description: "With the session cookie: the session's CSRF token", schema: { type: "string" } });
  return list;
}

function operation(route: Route, used: Set<number>): OpenApiObject {
  const responses: OpenApiObject = Object.fromEntries(successResponses(route));
  for (const status of errorStatuses(route)) {
    used.add(status);
    responses[String(status)] = { $ref: `#/components/responses/${PROBLEMS[status]![0]}` };
  }
  responses.default = problem("Any other error (500 carries only the request id)");
  const result: OpenApiObject = {
    operationId: route.name,
    summary: route.description ?? route.name,
    tags: [route.origin === "builtin" ? "endpoint" : "routes"],
    security: route.rule.public ? [] : route.rule.accepts.map((credential) => (credential === "session" ? { sessionCookie: [] } : { bearerToken: [] })),
    "x-endpoint-access": route.rule.public ? "public" : { groups: route.rule.groups },
    parameters: parameters(route),
    responses,
  };
  // Which other origins' pages may call it from a browser (endpoint.yaml `cors`), for the people who write them.
  if (route.cors)
    result["x-endpoint-cors"] = {
      origins: route.cors.origins,
      methods: route.cors.methods,
      headers: route.cors.headers,
      max_age: route.cors.maxAgeSeconds,
      credentials: route.cors.credentials,
    };
  // How many requests it answers per window (endpoint.yaml `rate_limit`, else server.rate_limit).
  if (route.rateLimits.length > 0)
    result["x-endpoint-rate-limit"] = route.rateLimits.map((policy) => ({ name: policy.name, limit: policy.limit, window_seconds: policy.windowSeconds, per: policy.per }));
  if (route.handler.body) result.requestBody = { required: true, content: { "application/json": { schema: toOpenApiSchema(route.handler.body) } } };
  return result;
}

const TAGS = { endpoint: "Endpoint's own routes: health, sign-in, pages and the REST API", routes: "The routes endpoint.yaml declares" };

/** The document for `routes` (the whole table, or the part one caller may call). */
export function openApiDocument(config: Config, routes: readonly Route[]): object {
  const paths: Record<string, Record<string, object>> = {};
  const used = new Set<number>();
  for (const route of routes) (paths[route.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")] ??= {})[route.method.toLowerCase()] = operation(route, used);
  const tagNames = new Set<string>(routes.map((route) => (route.origin === "builtin" ? "endpoint" : "routes")));
  return {
    openapi: "3.0.3",
    info: { title: "Endpoint", version: "1", description: `Routes of ${config.server.publicUrl}` },
    servers: [{ url: config.server.publicUrl }],
    tags: Object.entries(TAGS).filter(([name]) => tagNames.has(name)).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas: { Problem: problemSchema },
      responses: Object.fromEntries([...used].sort((a, b) => a - b).map((status) => PROBLEMS[status]!)),
      // Only when some route is rate-limited: an unused component is a lint error.
      ...(used.has(429) ? { headers: RATE_LIMIT_HEADERS } : {}),
      securitySchemes: {
        sessionCookie: { type: "apiKey", in: "cookie", name: config.auth.cookieName, description: "Browser session; state-changing requests also need X-CSRF-Token" },
        bearerToken: { type: "http", scheme: "bearer", bearerFormat: "ept_ + JWT" },
      },
    },
  };
}

/** Documents are made once per set of visible routes; a few groups and token scopes give a few sets. */
const DOCUMENTS_KEPT = 64;

/** The /api/openapi.json route, when server.openapi is not "off". */
export function openApiRoutes(config: Config): Route[] {
  if (config.server.openapi === "off") return [];
  const everyone = config.server.openapi === "public";
  // Built on request and kept: the table does not change while this app serves.
  const documents = new Map<string, object>();
  const documentFor = (table: readonly Route[], caller: Principal | null) => {
    const routes = everyone ? table : table.filter((route) => decide(route.rule, caller).outcome === "allow");
    const key = everyone ? "" : routes.map((route) => route.name).join(" ");
    let document = documents.get(key);
    if (!document) {
      if (documents.size >= DOCUMENTS_KEPT) documents.clear();
      documents.set(key, (document = openApiDocument(config, routes)));
    }
    return document;
  };
  return ([
    {
      name: "api-openapi",
      method: "GET",
      path: "/api/openapi.json",
      access: everyone ? anyone() : signedIn(),
      description: everyone ? "This document: every route" : "This document: the routes you may call",
      handler: defineHandler({ handle: ({ services, caller }) => documentFor(services.routes, caller) }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
