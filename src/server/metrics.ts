// What /metrics reports, through prom-client on a registry of this Endpoint's own (several Endpoints in one process,
// as in the tests, never collide): requests and latency per route, refusals by reason, the auth cache, the
// listener's reconnects and the process. Label values are bounded: route names (or "unmatched"), never paths.
import { Counter, Gauge, type Metric, Registry, collectDefaultMetrics } from "prom-client";
import type { PoolUsage } from "../../db/postgres-js-dialect.ts";
import type { AuthCache } from "../auth/auth-cache.ts";
import type { RefusalReason } from "../auth/guard.ts";

/** Latency buckets in seconds: a cached token check answers in well under a millisecond, a slow query in seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Method label values, each with a small number for the counts' key; any other method is "other" (0). */
const METHOD_NUMBERS = new Map(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].map((method, i) => [method, i + 1]));
export const UNMATCHED_ROUTE = "unmatched";

/** One route's counts, as plain numbers: a request adds to them and allocates nothing; a scrape reads them. */
interface RouteCounts {
  name: string;
  /** Keyed by status × 8 + method number; both bounded, so this map stays small. */
  requests: Map<number, { method: string; status: string; count: number }>;
  /** Non-cumulative: bucketCounts[i] counts answers at most LATENCY_BUCKETS[i] seconds (and over the one before). */
  bucketCounts: number[];
  seconds: number;
  count: number;
}

export class EndpointMetrics {
  readonly registry = new Registry();
  readonly #refusals: Counter<"reason">;
  readonly #refusalChildren = new Map<string, ReturnType<Counter<"reason">["labels"]>>();
  readonly #rateLimitRejections: Counter<"route" | "policy">;
  readonly #routes = new Map<string, RouteCounts>();

  /** `pool`: the PostgreSQL query pool's usage (absent on embedded PGlite, which has no pool). */
  constructor(cache: AuthCache, pool?: () => PoolUsage) {
    const registers = [this.registry];
    const routes = this.#routes;
    // prom-client's own child.inc() hashes its labels on every call (about 0.7 µs a request with the histogram):
    // counting here and handing prom-client the totals when scraped keeps the request path to a few additions.
    new Counter({
      name: "endpoint_http_requests_total",
      help: "Answered requests by route name, method and status",
      labelNames: ["route", "method", "status"],
      registers,
      collect() {
        this.reset();
        for (const route of routes.values())
          for (const { method, status, count } of route.requests.values()) this.inc({ route: route.name, method, status }, count);
      },
    });
    this.registry.registerMetric(latencyHistogram(routes) as unknown as Metric);
    this.#refusals = new Counter({ name: "endpoint_auth_failures_total", help: "Requests answered 401 or 403, by reason", labelNames: ["reason"], registers });
    this.#rateLimitRejections = new Counter({
      name: "endpoint_rate_limit_rejections_total",
      help: "Requests refused with 429 by a rate limit, by route and limit name",
      labelNames: ["route", "policy"],
      registers,
    });
    // The cache counts with plain numbers on its own path; they are read here only when scraped.
    const stats = cache.stats;
    new Gauge({ name: "endpoint_auth_cache_hits", help: "Auth-cache lookups answered from memory since start (a counter; exposed as read)", registers, collect() { this.set(stats.hits); } });
    new Gauge({ name: "endpoint_auth_cache_misses", help: "Auth-cache lookups that went to the database since start", registers, collect() { this.set(stats.misses); } });
    new Gauge({ name: "endpoint_listener_reconnects", help: "Times the notification listener connected again after its first LISTEN", registers, collect() { this.set(stats.reconnects); } });
    if (pool) {
      new Gauge({ name: "endpoint_db_pool_size", help: "Connections the query pool may open", registers, collect() { this.set(pool().size); } });
      new Gauge({ name: "endpoint_db_pool_in_use", help: "Pool connections running a statement or held by a transaction", registers, collect() { this.set(pool().inUse); } });
      new Gauge({ name: "endpoint_db_pool_waiting", help: "Statements and transactions waiting for a pool connection", registers, collect() { this.set(pool().waiting); } });
    }
    collectDefaultMetrics({ register: this.registry });
  }

  /** Count one answered request (app.ts's finish calls it once per request). */
  observe(route: string | undefined, method: string, status: number, startedAt: number, refusalReason: RefusalReason | undefined): void {
    const name = route ?? UNMATCHED_ROUTE;
    let counts = this.#routes.get(name);
    if (!counts) this.#routes.set(name, (counts = { name, requests: new Map(), bucketCounts: LATENCY_BUCKETS.map(() => 0), seconds: 0, count: 0 }));
    const seconds = (performance.now() - startedAt) / 1000;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    if (bucket < LATENCY_BUCKETS.length) counts.bucketCounts[bucket]!++;
    counts.seconds += seconds;
    counts.count++;
    const methodNumber = METHOD_NUMBERS.get(method) ?? 0;
    const key = status * 8 + methodNumber;
    const requests = counts.requests.get(key);
    if (requests) requests.count++;
    else counts.requests.set(key, { method: methodNumber ? method : "other", status: String(status), count: 1 });
    // The guard, the CSRF check, sudo mode and the sign-in handlers (context.refusedAs) name their reason; a 401 or
    // 403 a handler gave without naming one is "other".
    if (status === 401 || status === 403) this.#refusal(refusalReason ?? "other").inc();
  }

  /** Count one 429 (rare next to answered requests: prom-client's own labelled counter is cheap enough). */
  rateLimited(route: string, policy: string): void {
    this.#rateLimitRejections.inc({ route, policy });
  }

  #refusal(reason: string) {
    let child = this.#refusalChildren.get(reason);
    if (!child) this.#refusalChildren.set(reason, (child = this.#refusals.labels(reason)));
    return child;
  }

  /** The text Prometheus scrapes, with its content type. */
  async exposition(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

/** The latency histogram as a collector prom-client's registry formats: cumulative buckets, sum and count per route. */
function latencyHistogram(routes: ReadonlyMap<string, RouteCounts>) {
  const name = "endpoint_http_request_duration_seconds";
  return {
    name,
    help: "Time to answer a request, by route name",
    type: "histogram",
    aggregator: "sum",
    get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const route of routes.values()) {
        let cumulative = 0;
        LATENCY_BUCKETS.forEach((le, i) => {
          cumulative += route.bucketCounts[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { route: route.name, le }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { route: route.name, le: "+Inf" }, value: route.count });
        values.push({ metricName: `${name}_sum`, labels: { route: route.name }, value: route.seconds });
        values.push({ metricName: `${name}_count`, labels: { route: route.name }, value: route.count });
      }
      return { name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
  };
}
