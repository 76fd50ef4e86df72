// GET /metrics: this Endpoint's counters in Prometheus's text format, for members of the `metrics` group (a token
// for the scraper, or a session), never anyone: route names and refusal counts say a lot about a deployment.
import { defineHandler } from "../../handlers/define-handler.ts";
import { type Route, type RouteSpec, builtinRoute, membersOf } from "../route.ts";

/** Members of this group may read /metrics. Not created automatically: declare it under `groups` or add-group. */
export const METRICS_GROUP = "metrics";

export function metricsRoutes(): Route[] {
  return ([
    {
      name: "metrics",
      method: "GET",
      path: "/metrics",
      access: membersOf([METRICS_GROUP], ["token", "session"]),
      description: "Request, latency, refusal, auth-cache and process metrics in Prometheus's text format",
      handler: defineHandler({
        async handle({ services }) {
          const { body, contentType } = await services.metrics.exposition();
          return new Response(body, { headers: { "Content-Type": contentType, "Cache-Control": "no-store" } });
        },
      }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
