// Turns the config into the route table once, at start-up: each route's handler resolved, its rule compiled,
// its validators built. Nothing here is looked up per request.
import type { TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import type { Rule } from "../auth/guard.ts";
import type { Config, HttpMethod } from "../config/schema.ts";
import type { Handler } from "../handlers/define-handler.ts";

export interface RouteEntry {
  name: string;
  method: HttpMethod;
  path: string;
  /** "module.export" for routes from endpoint.yaml, "builtin:<name>" for Endpoint's own. */
  handlerName: string;
  origin: "config" | "builtin";
  description?: string;
  rule: Rule;
  handler: Handler;
  validators: { params?: TypeCheck<TSchema>; query?: TypeCheck<TSchema>; body?: TypeCheck<TSchema>; response?: TypeCheck<TSchema> };
  /** Matches a concrete path (for 405 answers). */
  pattern: RegExp;
}

export interface BuiltinRoute {
  name: string;
  method: HttpMethod;
  path: string;
  rule: Omit<Rule, "route">;
  handler: Handler;
  description: string;
}

export function compileValidators(handler: Handler): RouteEntry["validators"] {
  return {
    params: handler.params ? TypeCompiler.Compile(handler.params) : undefined,
    query: handler.query ? TypeCompiler.Compile(handler.query) : undefined,
    body: handler.body ? TypeCompiler.Compile(handler.body) : undefined,
    response: handler.response ? TypeCompiler.Compile(handler.response) : undefined,
  };
}

export function pathPattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}$`);
}

/** The route table: Endpoint's built-ins first, then every route endpoint.yaml declares. */
export function buildRouteTable(config: Config, handlers: ReadonlyMap<string, Handler>, builtins: BuiltinRoute[]): RouteEntry[] {
  const table: RouteEntry[] = builtins.map((b) => ({
    name: b.name,
    method: b.method,
    path: b.path,
    handlerName: `builtin:${b.name}`,
    origin: "builtin",
    description: b.description,
    rule: { ...b.rule, route: b.name },
    handler: b.handler,
    validators: compileValidators(b.handler),
    pattern: pathPattern(b.path),
  }));
  for (const route of config.routes) {
    const handler = handlers.get(route.handler);
    if (!handler) throw new Error(`handler ${route.handler} of route ${route.name} was not loaded`);
    // validate refuses this too; a handler that promises a caller must never be reached without one.
    if (handler.signedIn && route.public) throw new Error(`route ${route.name} is public but its handler needs a signed-in caller`);
    table.push({
      name: route.name,
      method: route.method,
      path: route.path,
      handlerName: route.handler,
      origin: "config",
      description: route.description,
      rule: { route: route.name, public: route.public, groups: route.groups, accepts: route.auth },
      handler,
      validators: compileValidators(handler),
      pattern: pathPattern(route.path),
    });
  }
  return table;
}
