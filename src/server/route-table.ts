// The route table: Endpoint's built-ins first, then every route endpoint.yaml declares. A declared route under a
// built-in's first path segment is refused here too (validate says so first, from the same list).
import type { Config } from "../config/schema.ts";
import type { Handler } from "../handlers/define-handler.ts";
import { type Route, configRoute } from "./route.ts";

/** The first path segments the built-ins use ("/admin", "/api", …): paths that belong to Endpoint. */
export function reservedPrefixes(builtins: readonly Route[]): string[] {
  return [...new Set(builtins.map((route) => `/${route.path.split("/")[1]}`))].sort();
}

export function buildRouteTable(config: Config, handlers: ReadonlyMap<string, Handler>, builtins: readonly Route[]): Route[] {
  const reserved = reservedPrefixes(builtins);
  // server.rate_limit covers Endpoint's own routes too, but never the health probes: a load balancer told 429 would
  // take a healthy instance out of service.
  const limits = config.server.rateLimits;
  const table = builtins.map((route) => (limits.length && !route.anyHost && route.rateLimits.length === 0 ? { ...route, rateLimits: limits } : route));
  for (const route of config.routes) {
    const handler = handlers.get(route.handler);
    if (!handler) throw new Error(`handler ${route.handler} of route ${route.name} was not loaded`);
    const prefix = reserved.find((p) => route.path === p || route.path.startsWith(`${p}/`));
    if (prefix) throw new Error(`route ${route.name}: paths under ${prefix} belong to Endpoint itself`);
    table.push(configRoute(route, handler));
  }
  return table;
}
