// The OpenAPI 3 document at /api/openapi.json, generated from the route table itself: Endpoint's API and every
// route of endpoint.yaml, each with its security (session and/or bearer) and the groups it allows.
import type { TSchema } from "@sinclair/typebox";
import type { Config } from "../../config/schema.ts";
import { defineHandler } from "../../handlers/define-handler.ts";
import { type Route, type RouteSpec, anyone, builtinRoute, signedIn } from "../route.ts";

const problemSchema = {
  type: "object",
  required: ["type", "title", "status", "detail", "code", "request_id"],
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    code: { type: "string" },
    request_id: { type: "string" },
    errors: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } },
  },
};

/** JSON Schema from a TypeBox schema, without TypeBox's symbols. */
const plain = (schema: TSchema) => JSON.parse(JSON.stringify(schema));

function parameters(entry: Route): object[] {
  const list: object[] = [];
  const pathNames = [...entry.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const paramSchemas = (entry.handler.params as { properties?: Record<string, TSchema> } | undefined)?.properties ?? {};
  for (const name of pathNames) list.push({ name, in: "path", required: true, schema: paramSchemas[name] ? plain(paramSchemas[name]) : { type: "string" } });
  const query = entry.handler.query as { properties?: Record<string, TSchema>; required?: string[] } | undefined;
  for (const [name, schema] of Object.entries(query?.properties ?? {}))
    list.push({ name, in: "query", required: query?.required?.includes(name) ?? false, schema: plain(schema) });
  return list;
}

export function openApiDocument(config: Config, table: readonly Route[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const entry of table) {
    const path = entry.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const security = entry.rule.public ? [] : entry.rule.accepts.map((credential) => (credential === "session" ? { sessionCookie: [] } : { bearerToken: [] }));
    const operation: Record<string, unknown> = {
      operationId: entry.name,
      summary: entry.description ?? entry.name,
      tags: [entry.origin === "builtin" ? "endpoint" : "routes"],
      security,
      "x-endpoint-access": entry.rule.public ? "public" : { groups: entry.rule.groups },
      parameters: parameters(entry),
      responses: {
        "200": entry.handler.response
          ? { description: "Success", content: { "application/json": { schema: plain(entry.handler.response) } } }
          : { description: "Success" },
        default: { description: "An error, as problem+json", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } },
      },
    };
    if (entry.handler.body) operation.requestBody = { required: true, content: { "application/json": { schema: plain(entry.handler.body) } } };
    (paths[path] ??= {})[entry.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.0.3",
    info: { title: "Endpoint", version: "1", description: `Routes of ${config.server.publicUrl}` },
    servers: [{ url: config.server.publicUrl }],
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: {
        sessionCookie: { type: "apiKey", in: "cookie", name: config.auth.cookieName, description: "Browser session; state-changing requests also need X-CSRF-Token" },
        bearerToken: { type: "http", scheme: "bearer", bearerFormat: "ept_ + JWT" },
      },
    },
  };
}

/** The /api/openapi.json route, when server.openapi is not "off". */
export function openApiRoutes(config: Config): Route[] {
  if (config.server.openapi === "off") return [];
  let document: object | undefined;
  return ([
    {
      name: "api-openapi",
      method: "GET",
      path: "/api/openapi.json",
      access: config.server.openapi === "public" ? anyone() : signedIn(),
      description: "This document",
      // Built once, on first request: the table does not change while this app serves.
      handler: defineHandler({ handle: ({ services }) => (document ??= openApiDocument(config, services.routes)) }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
