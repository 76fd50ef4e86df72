// Endpoint's own routes. They are mounted through the same table and guard as the routes in endpoint.yaml.
import { readFileSync } from "node:fs";
import { defineHandler } from "../handlers/define-handler.ts";
import type { BuiltinRoute } from "./route-table.ts";

export interface Readiness {
  ready: boolean;
  database: "ok" | "unavailable";
  pendingMigrations: number;
  lastMigration: string | null;
  configHash: string;
}

const STYLESHEET = readFileSync(new URL("../static/endpoint.css", import.meta.url), "utf8");
const SCRIPT = readFileSync(new URL("../static/endpoint.js", import.meta.url), "utf8");

export function builtinRoutes(checkReadiness: () => Promise<Readiness>): BuiltinRoute[] {
  const open = { public: true, groups: [], accepts: ["session", "token"] } as const;
  return [
    {
      name: "healthz",
      method: "GET",
      path: "/healthz",
      rule: open,
      description: "The process is up",
      handler: defineHandler({ handle: () => ({ status: "ok" }) }),
    },
    {
      name: "readyz",
      method: "GET",
      path: "/readyz",
      rule: open,
      description: "The database is reachable and fully migrated",
      handler: defineHandler({
        async handle() {
          const r = await checkReadiness();
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
      rule: open,
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
      rule: open,
      description: "The pages' one script (copy buttons)",
      handler: defineHandler({
        handle: () =>
          new Response(SCRIPT, { headers: { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600" } }),
      }),
    },
  ];
}
