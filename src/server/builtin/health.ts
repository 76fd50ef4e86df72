// Endpoint's own routes. They are mounted through the same table and guard as the routes in endpoint.yaml.
import { readFileSync } from "node:fs";
import { defineHandler } from "../../handlers/define-handler.ts";
import { type Route, type RouteSpec, builtinRoute, anyone } from "../route.ts";

const STYLESHEET = readFileSync(new URL("../../static/endpoint.css", import.meta.url), "utf8");
const SCRIPT = readFileSync(new URL("../../static/endpoint.js", import.meta.url), "utf8");

export function healthRoutes(): Route[] {
  const open = anyone();
  return ([
    {
      name: "healthz",
      method: "GET",
      path: "/healthz",
      access: open,
      anyHost: true,
      description: "The process is up",
      handler: defineHandler({ handle: () => ({ status: "ok" }) }),
    },
    {
      name: "readyz",
      method: "GET",
      path: "/readyz",
      access: open,
      anyHost: true,
      description: "The database is reachable and fully migrated",
      handler: defineHandler({
        async handle({ services }) {
          const r = await services.readiness();
          const body = {
            status: r.ready ? "ready" : "not_ready",
            database: r.database,
            pending_migrations: r.pendingMigrations,
            migration: r.lastMigration,
            config_hash: r.configHash,
          };
          return Response.json(body, { status: r.ready ? 200 : 503, headers: { "Cache-Control": "no-store" } });
        },
      }),
    },
    {
      name: "static-css",
      method: "GET",
      path: "/static/endpoint.css",
      access: open,
      description: "The pages' stylesheet",
      handler: defineHandler({
        handle: () =>
          new Response(STYLESHEET, { headers: { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=3600" } }),
      }),
    },
    {
      name: "static-js",
      method: "GET",
      path: "/static/endpoint.js",
      access: open,
      description: "The pages' one script (copy buttons)",
      handler: defineHandler({
        handle: () =>
          new Response(SCRIPT, { headers: { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600" } }),
      }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
