// The one Route type, from endpoint.yaml (or Endpoint's own built-ins) to the mounted handler: its name, method
// and path, the rule the guard applies, the handler with its compiled validators, and a pattern for 405 answers.
// Built once at start-up; nothing here is looked up per request.
import type { TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import type { Credential } from "../auth/principal.ts";
import type { Rule } from "../auth/guard.ts";
import type { CorsPolicy, HttpMethod, RateLimitPolicy, RouteConfig } from "../config/schema.ts";
import type { Handler } from "../handlers/define-handler.ts";

export interface Route {
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
  /** Answered whatever the Host (health probes from load balancers and monitors often use the bare address). */
  anyHost?: boolean;
  /** Which other origins' pages may call it (endpoint.yaml `cors`, else `server.cors`); absent = none. */
  cors?: CorsPolicy;
  /** How many requests it answers per window (endpoint.yaml `rate_limit`, else `server.rate_limit`); empty = unlimited. */
  rateLimits: readonly RateLimitPolicy[];
}

/** Who may call a route, without its name (the builder adds it). */
export type Access = Omit<Rule, "route">;

/** Anyone, signed in or not; `accepts` says which credentials are read when presented. */
export const anyone = (accepts: readonly Credential[] = ["session", "token"]): Access => ({ public: true, groups: [], accepts });
/** Any signed-in caller. */
export const signedIn = (accepts: readonly Credential[] = ["session", "token"]): Access => ({ public: false, groups: ["*"], accepts });
/** Members of any of `groups`. */
export const membersOf = (groups: readonly string[], accepts: readonly Credential[] = ["session", "token"]): Access => ({ public: false, groups, accepts });

/** How a built-in route is written down (src/server/builtin/*): plain data. */
export interface RouteSpec {
  name: string;
  method: HttpMethod;
  path: string;
  access: Access;
  description: string;
  handler: Handler;
  anyHost?: boolean;
}

/** One of Endpoint's own routes. */
export function builtinRoute(spec: RouteSpec): Route {
  return {
    name: spec.name,
    method: spec.method,
    path: spec.path,
    handlerName: `builtin:${spec.name}`,
    origin: "builtin",
    description: spec.description,
    rule: { ...spec.access, route: spec.name },
    handler: spec.handler,
    validators: compileValidators(spec.handler),
    pattern: pathPattern(spec.path),
    anyHost: spec.anyHost,
    rateLimits: [],
  };
}

/** A route endpoint.yaml declares, with its loaded handler. */
export function configRoute(route: RouteConfig, handler: Handler): Route {
  // validate refuses this too; a handler that promises a caller must never be reached without one.
  if (handler.signedIn && route.public) throw new Error(`route ${route.name} is public but its handler needs a signed-in caller`);
  return {
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
    ...(route.cors ? { cors: route.cors } : {}),
    rateLimits: route.rateLimits,
  };
}

function compileValidators(handler: Handler): Route["validators"] {
  return {
    params: handler.params ? TypeCompiler.Compile(handler.params) : undefined,
    query: handler.query ? TypeCompiler.Compile(handler.query) : undefined,
    body: handler.body ? TypeCompiler.Compile(handler.body) : undefined,
    response: handler.response ? TypeCompiler.Compile(handler.response) : undefined,
  };
}

function pathPattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}$`);
}
