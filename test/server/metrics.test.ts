// /metrics: refused to strangers and non-members, counts that match the requests made, route names (never paths)
// as labels, and a real Prometheus (Debian's package) scraping it with a token and answering a query.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";
import { freePort } from "../support/server-process.ts";

/** The value of one sample line, e.g. sample(text, 'endpoint_http_requests_total{route="status",method="GET",status="200"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

for (const backend of testBackends()) {
  describe(`${backend.name}: /metrics over HTTP`, () => {
    let server: TestEndpoint;
    let scraperToken: string;
    let joeToken: string;

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("scraper", ["metrics"]);
      await server.addUser("joe", ["users"]);
      scraperToken = (await server.tokenFor("scraper")).token;
      joeToken = (await server.tokenFor("joe")).token;
    });
    afterAll(() => server.close());

    test("refused without credentials (401) and to a signed-in non-member (403)", async () => {
      const anonymous = await server.request("/metrics");
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toContain("Bearer");
      expect((await server.request("/metrics", { token: joeToken })).status).toBe(403);
    });

    test("a member's token reads counters that match the requests made, labelled by route name only", async () => {
      for (let i = 0; i < 5; i++) expect((await server.request("/status")).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await server.request("/no/such/place-12345")).status).toBe(404);
      const response = await server.request("/metrics", { token: scraperToken });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      const text = await response.text();
      expect(sample(text, 'endpoint_http_requests_total{route="status",method="GET",status="200"}')).toBe(5);
      expect(sample(text, 'endpoint_http_requests_total{route="unmatched",method="GET",status="404"}')).toBe(2);
      expect(sample(text, 'endpoint_http_request_duration_seconds_count{route="status"}')).toBe(5);
      expect(sample(text, 'endpoint_http_request_duration_seconds_bucket{route="status",le="+Inf"}')).toBe(5);
      expect(sample(text, 'endpoint_http_request_duration_seconds_bucket{route="status",le="10"}')).toBe(5);
      // The refusals of the test above, by reason.
      expect(sample(text, 'endpoint_auth_failures_total{reason="no_credentials"}')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'endpoint_auth_failures_total{reason="not_a_member"}')).toBeGreaterThanOrEqual(1);
      // Declared before any 429 (rate-limits.test.ts counts real ones, by route and limit).
      expect(text).toContain("# TYPE endpoint_rate_limit_rejections_total counter");
      expect(sample(text, "endpoint_auth_cache_hits")).toBeGreaterThanOrEqual(0);
      expect(sample(text, "endpoint_auth_cache_misses")).toBeGreaterThanOrEqual(1);
      expect(sample(text, "endpoint_listener_reconnects")).toBe(0);
      expect(text).toContain("process_cpu_user_seconds_total");
      // Never a raw path in a label.
      expect(text).not.toContain("/status");
      expect(text).not.toContain("no/such");
    });

    test("a token used twice is one auth-cache miss and then a hit", async () => {
      const read = async () => (await (await server.request("/metrics", { token: scraperToken })).text());
      const before = await read();
      const after = await read();
      // Each read looks up the scraper's token record and user: from the cache, once they are cached.
      expect(sample(after, "endpoint_auth_cache_hits")!).toBeGreaterThan(sample(before, "endpoint_auth_cache_hits")!);
      expect(sample(after, "endpoint_auth_cache_misses")).toBe(sample(before, "endpoint_auth_cache_misses"));
    });

    // Only PostgreSQL has a listener connection to cut (PGlite's notifications are in-process).
    if (backend.name === "postgres")
      test("a listener connection cut by the server counts one reconnect", async () => {
      const listeners = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`.execute(server.database.db);
      expect(listeners.rows.length).toBe(1);
      await sql`select pg_terminate_backend(${listeners.rows[0]!.pid})`.execute(server.database.db);
      const deadline = Date.now() + 10_000;
      let reconnects = 0;
      while (Date.now() < deadline && reconnects === 0) {
        await Bun.sleep(100);
        reconnects = sample(await (await server.request("/metrics", { token: scraperToken })).text(), "endpoint_listener_reconnects") ?? 0;
      }
      expect(reconnects).toBe(1);
    });

    if (backend.name === "postgres")
      test("the pool gauges show statements in flight, and none once they are done", async () => {
        const read = async () => {
          const text = await (await server.request("/metrics", { token: scraperToken })).text();
          return { size: sample(text, "endpoint_db_pool_size"), inUse: sample(text, "endpoint_db_pool_in_use"), waiting: sample(text, "endpoint_db_pool_waiting") };
        };
        // The Endpoint's own background statements (the listener's heartbeat, write-behind) come and go: wait them out.
        const idle = async () => {
          for (let i = 0; i < 50; i++) {
            const now = await read();
            if (now.inUse === 0 && now.waiting === 0) return now;
            await Bun.sleep(20);
          }
          return read();
        };
        expect(await idle()).toEqual({ size: 10, inUse: 0, waiting: 0 });
        // Twelve sleeping statements on a pool of ten: ten connections busy, two (and any background one) waiting.
        const sleeping = Array.from({ length: 12 }, () => sql`select pg_sleep(0.6)`.execute(server.database.db));
        await Bun.sleep(150);
        const busy = await read();
        expect({ size: busy.size, inUse: busy.inUse }).toEqual({ size: 10, inUse: 10 });
        expect(busy.waiting).toBeGreaterThanOrEqual(2);
        expect(busy.waiting).toBeLessThanOrEqual(4);
        await Promise.all(sleeping);
        expect(await idle()).toEqual({ size: 10, inUse: 0, waiting: 0 });
      });
  });

  describe(`${backend.name}: refusals counted by reason`, () => {
    let server: TestEndpoint;
    afterAll(() => server?.close());

    test("each way a request is refused adds one to its own reason, whatever the sentence in the log says", async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("scraper", ["metrics"]);
      await server.addUser("joe", ["users"]);
      const scraper = (await server.tokenFor("scraper")).token;
      const joe = (await server.tokenFor("joe")).token;
      const statusOnly = (await server.tokenFor("joe", { routes: ["status"], name: "status-only" })).token;
      const fresh = await server.signIn("joe");
      const stale = await server.signIn("joe");
      // Joe typed the password of `stale` 11 hours ago: making a token needs it again (sudo mode).
      const staleHash = new Bun.CryptoHasher("sha256").update(stale.cookie.split("=")[1]!).digest("hex");
      await sql`update sessions set authenticated_at = now() - interval '11 hours' where id_hash = ${staleHash}`.execute(server.database.db);
      server.endpoint.cache.forgetSession(staleHash);
      const post = (session: { cookie: string; csrfToken: string }, csrf: boolean) =>
        server.request("/api/tokens", {
          method: "POST",
          cookie: session.cookie,
          headers: { origin: server.origin, "content-type": "application/json", ...(csrf ? { "x-csrf-token": session.csrfToken } : {}) },
          body: JSON.stringify({ name: "laptop" }),
        });
      // The sign-in form, posted with a wrong password, and once without the form's CSRF cookie.
      const form = await server.request("/login");
      const loginCsrf = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      const signIn = (cookie: string | undefined) =>
        server.request("/login", {
          method: "POST",
          cookie,
          headers: { origin: server.origin, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ username: "joe", password: "not joe's password", _csrf: field }).toString(),
        });
      const refusals: Array<[string, Promise<Response>, number]> = [
        ["no_credentials", server.request("/whoami"), 401],
        ["invalid_credentials", server.request("/whoami", { token: "ept_not-a-token" }), 401],
        ["credential_not_accepted", server.request("/events", { token: joe }), 401],
        ["credential_not_accepted", server.request("/hooks/events", { method: "POST", cookie: fresh.cookie, headers: { origin: server.origin } }), 401],
        ["token_route_limit", server.request("/whoami", { token: statusOnly }), 403],
        ["not_a_member", server.request("/metrics", { token: joe }), 403],
        ["csrf", post(fresh, false), 403],
        ["sudo", post(stale, true), 403],
        ["wrong_password", signIn(loginCsrf), 401],
        ["csrf", signIn(undefined), 403],
      ];
      const answered: Array<[string, number]> = [];
      for (const [reason, response] of refusals) answered.push([reason, (await response).status]);
      expect(answered).toEqual(refusals.map(([reason, , status]) => [reason, status]));
      const text = await (await server.request("/metrics", { token: scraper })).text();
      const counted: Record<string, number | undefined> = {};
      const expected: Record<string, number> = {};
      for (const [reason] of refusals) {
        counted[reason] = sample(text, `endpoint_auth_failures_total{reason="${reason}"}`);
        expected[reason] = (expected[reason] ?? 0) + 1;
      }
      expect(counted).toEqual(expected);
      expect(sample(text, 'endpoint_auth_failures_total{reason="other"}')).toBeUndefined();
    });
  });
}

const PROMETHEUS = "/usr/bin/prometheus";

describe.skipIf(!existsSync(PROMETHEUS))("a real Prometheus scraping /metrics with a token", () => {
  let server: TestEndpoint;
  let listener: ReturnType<typeof Bun.serve>;
  let prometheus: ReturnType<typeof Bun.spawn> | undefined;
  let prometheusUrl: string;
  let prometheusOutput = "";
  const dir = mkdtempSync(join(tmpdir(), "endpoint-prometheus-"));

  beforeAll(async () => {
    server = await startTestEndpoint(testBackends()[0]!);
    await server.addUser("scraper", ["metrics"]);
    const token = (await server.tokenFor("scraper")).token;
    listener = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => server.endpoint.app.handle(request) });
    const endpointPort = listener.port!;
    server.endpoint.listeningOn(endpointPort);
    const config = [
      "global: { scrape_interval: 1s, scrape_timeout: 1s }",
      "scrape_configs:",
      "  - job_name: endpoint",
      "    metrics_path: /metrics",
      `    authorization: { credentials: "${token}" }`,
      `    static_configs: [{ targets: ["127.0.0.1:${endpointPort}"] }]`,
      "",
    ].join("\n");
    writeFileSync(join(dir, "prometheus.yml"), config);
    const port = freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = Bun.spawn(
      [PROMETHEUS, `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdout: "ignore", stderr: "pipe" },
    );
    void new Response(prometheus.stderr as ReadableStream).text().then((t) => (prometheusOutput = t));
  });

  afterAll(async () => {
    prometheus?.kill();
    await prometheus?.exited;
    listener?.stop(true);
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Ask Prometheus's HTTP API until `check` accepts the answer, or fail after `seconds`. */
  async function poll<T>(path: string, check: (body: any) => T | undefined, seconds = 20): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        last = await (await fetch(prometheusUrl + path)).json();
        const found = check(last);
        if (found !== undefined) return found;
      } catch (error) {
        last = error;
      }
      await Bun.sleep(250);
    }
    throw new Error(`Prometheus never answered as expected at ${path}: ${JSON.stringify(last)}\n${prometheusOutput}`);
  }

  test("the target comes up, and a query for the request counter returns the requests made", async () => {
    await poll("/api/v1/targets", (body) => (body.data?.activeTargets?.[0]?.health === "up" ? true : undefined));
    const requests = 7;
    for (let i = 0; i < requests; i++) expect((await server.request("/status")).status).toBe(200);
    const query = encodeURIComponent('sum(endpoint_http_requests_total{route="status"})');
    const value = await poll(`/api/v1/query?query=${query}`, (body) => {
      const result = body.data?.result?.[0]?.value?.[1];
      return result === String(requests) ? result : undefined;
    });
    expect(value).toBe(String(requests));
  }, 60_000);
});
