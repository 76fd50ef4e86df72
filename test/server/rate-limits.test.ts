// Per-route rate limits over real Requests, on every backend: exact counts on one instance (one at a time and all at
// once), the headers of every limited answer, 429s with Retry-After, keys kept apart (tokens, users, addresses, IPv6
// by /64), a forged X-Forwarded-For that buys nothing, a window that ends and starts afresh, refusals by the guard
// that are not counted — and, on PostgreSQL, two instances sharing one limit without passing it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { join } from "node:path";
import { openDatabase } from "../../db/open.ts";
import { RateLimiter, addressKey } from "../../src/server/rate-limiter.ts";
import { assembleEndpoint } from "../../src/server/assemble.ts";
import { createLogger, memorySink } from "../../src/logger.ts";
import { testBackends } from "../support/backends.ts";
import { TEST_SECRET, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const WEEK = 604800;
const from = (address: string, extra: Record<string, string> = {}) => ({ headers: { "x-test-peer": address, ...extra } });
const statuses = (responses: Response[]) => responses.map((response) => response.status);

for (const backend of testBackends()) {
  describe(`${backend.name}: rate limits`, () => {
    let server: TestEndpoint;
    beforeAll(async () => {
      server = await startTestEndpoint(backend, { configFile: join(FIXTURES, "rate-limits.yaml"), routesDir: join(FIXTURES, "routes") });
      for (const name of ["ada", "bob", "cy"]) await server.addUser(name);
      await server.addUser("scraper", ["metrics"]);
    });
    afterAll(() => server.close());

    test("one instance: exactly the limit is answered, then 429 problem+json with Retry-After, and every answer says what is left", async () => {
      const { token } = await server.tokenFor("ada");
      const answers: Response[] = [];
      for (let i = 0; i < 8; i++) answers.push(await server.request("/limited/token", { token }));
      expect(statuses(answers)).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
      for (const answer of answers) expect(answer.headers.get("ratelimit-policy")).toBe(`"token-${WEEK}s";q=5;w=${WEEK}`);
      const left = answers.map((answer) => /;r=(\d+);t=(\d+)$/.exec(answer.headers.get("ratelimit")!)![1]);
      expect(left).toEqual(["4", "3", "2", "1", "0", "0", "0", "0"]);
      const refused = answers[5]!;
      expect(refused.headers.get("content-type")).toStartWith("application/problem+json");
      const retryAfter = Number(refused.headers.get("retry-after"));
      const reset = Number(/;t=(\d+)$/.exec(refused.headers.get("ratelimit")!)![1]);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(WEEK);
      expect(Math.abs(retryAfter - reset)).toBeLessThanOrEqual(1);
      const problem = (await refused.json()) as { status: number; code: string; detail: string };
      expect(problem.status).toBe(429);
      expect(problem.code).toBe("rate_limited");
      expect(problem.detail).toContain("5 requests per 7 days per token");
    });

    test("one instance, all at once: 20 concurrent requests get exactly 5 answers", async () => {
      const { token } = await server.tokenFor("ada", { name: "burst" });
      const answers = await Promise.all(Array.from({ length: 20 }, () => server.request("/limited/token", { token })));
      expect(statuses(answers).filter((status) => status === 200).length).toBe(5);
      expect(statuses(answers).filter((status) => status === 429).length).toBe(15);
    });

    test("distinct tokens and distinct addresses are counted apart; IPv6 addresses count by /64", async () => {
      const first = await server.tokenFor("bob", { name: "first" });
      const second = await server.tokenFor("bob", { name: "second" });
      for (let i = 0; i < 5; i++) expect((await server.request("/limited/token", { token: first.token })).status).toBe(200);
      expect((await server.request("/limited/token", { token: first.token })).status).toBe(429);
      // The same user's other token has a bucket of its own.
      for (let i = 0; i < 5; i++) expect((await server.request("/limited/token", { token: second.token })).status).toBe(200);

      const hits = async (address: string, n: number) => statuses(await Promise.all(Array.from({ length: n }, () => server.request("/limited/address", from(address)))));
      expect(await hits("10.0.0.1", 4)).toEqual([200, 200, 200, 429]);
      expect(await hits("10.0.0.2", 3)).toEqual([200, 200, 200]);
      expect((await hits("2001:db8:1:2::1", 2)).every((s) => s === 200)).toBe(true);
      // Another address in the same /64 shares what is left; another /64 does not.
      expect(await hits("2001:db8:1:2:ffff::9", 2)).toEqual([200, 429]);
      expect(await hits("2001:db8:1:3::1", 3)).toEqual([200, 200, 200]);
    });

    test("with trusted_proxies 0 a forged X-Forwarded-For buys no fresh bucket", async () => {
      const answers: number[] = [];
      for (let i = 0; i < 5; i++) answers.push((await server.request("/limited/address", from("10.9.9.9", { "x-forwarded-for": `198.51.100.${i}` }))).status);
      expect(answers).toEqual([200, 200, 200, 429, 429]);
    });

    test("several limits on one route: a request must fit all, and the headers list each", async () => {
      const ada = await server.tokenFor("cy", { name: "two" });
      const bob = await server.tokenFor("scraper", { name: "two" });
      const answers: Response[] = [];
      for (let i = 0; i < 5; i++) answers.push(await server.request("/limited/both", { token: ada.token }));
      expect(statuses(answers)).toEqual([200, 200, 200, 200, 429]);
      expect(answers[0]!.headers.get("ratelimit-policy")).toBe(`"user-${WEEK}s";q=4;w=${WEEK}, "everyone";q=6;w=${WEEK}`);
      expect(answers[3]!.headers.get("ratelimit")).toMatch(new RegExp(`^"user-${WEEK}s";r=0;t=\\d+, "everyone";r=2;t=\\d+$`));
      expect(((await answers[4]!.json()) as { detail: string }).detail).toContain("per user");
      // The route's total is shared by everyone: another user gets what is left of it (2), not their own 4.
      const others: number[] = [];
      for (let i = 0; i < 3; i++) others.push((await server.request("/limited/both", { token: bob.token })).status);
      expect(others).toEqual([200, 200, 429]);
      // A request refused by one limit used nothing of the other: cy's refused fifth request left "everyone" at 2.
    });

    test("requests the guard refuses are not counted and carry no RateLimit headers", async () => {
      for (let i = 0; i < 8; i++) {
        const refused = await server.request("/limited/token", { token: "ept_not-a-token" });
        expect(refused.status).toBe(401);
        expect(refused.headers.get("ratelimit")).toBeNull();
      }
      const { token } = await server.tokenFor("ada", { name: "after-refusals" });
      expect((await server.request("/limited/token", { token })).status).toBe(200);
    });

    test("browser sessions count per user under a per-token limit (two sessions share)", async () => {
      const one = await server.signIn("cy");
      const two = await server.signIn("cy");
      const answers: number[] = [];
      for (const session of [one, two, one, two, one, two]) answers.push((await server.request("/limited/token", { cookie: session.cookie })).status);
      expect(answers).toEqual([200, 200, 200, 200, 200, 429]);
    });

    test("a browser is shown a 429 page, with Retry-After", async () => {
      const html = { accept: "text/html" };
      for (let i = 0; i < 3; i++) await server.request("/limited/address", from("10.0.0.77", html));
      const page = await server.request("/limited/address", from("10.0.0.77", html));
      expect(page.status).toBe(429);
      expect(page.headers.get("content-type")).toContain("text/html");
      expect(Number(page.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await page.text()).toContain("Too Many Requests");
    });

    test("a window that ends starts afresh", async () => {
      const hit = () => server.request("/limited/short", from("10.1.1.1"));
      // Start at the beginning of a 2 s window, so the two requests and the refusal fall in one.
      let probe = await hit();
      const waitOut = async (response: Response) => Bun.sleep(Number(/;t=(\d+)$/.exec(response.headers.get("ratelimit")!)![1]) * 1000 + 50);
      await waitOut(probe);
      const first = [await hit(), await hit(), await hit()];
      expect(statuses(first)).toEqual([200, 200, 429]);
      const retryAfter = Number(first[2]!.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(2);
      await waitOut(first[2]!);
      probe = await hit();
      expect(probe.status).toBe(200);
      expect(probe.headers.get("ratelimit")).toMatch(/^"route-2s";r=1;t=[0-2]$/);
    });

    test("rate_limit: [] turns server.rate_limit off; built-ins get the default, health probes never", async () => {
      const unlimited = await server.request("/unlimited", from("10.2.2.2"));
      expect(unlimited.status).toBe(200);
      expect(unlimited.headers.get("ratelimit")).toBeNull();
      const defaulted = await server.request("/defaulted", from("10.2.2.2"));
      expect(defaulted.headers.get("ratelimit-policy")).toBe(`"address-${WEEK}s";q=40;w=${WEEK}`);
      expect((await server.request("/login", from("10.2.2.2"))).headers.get("ratelimit-policy")).toBe(`"address-${WEEK}s";q=40;w=${WEEK}`);
      for (let i = 0; i < 45; i++) {
        const health = await server.request("/healthz", from("10.2.2.2"));
        expect(health.status).toBe(200);
        expect(health.headers.get("ratelimit")).toBeNull();
      }
    });

    test("/metrics counts the 429s by route and limit name", async () => {
      const { token } = await server.tokenFor("scraper", { name: "metrics" });
      const text = await (await server.request("/metrics", { token })).text();
      const count = (route: string, policy: string) =>
        Number(/ (\d+)$/.exec(text.split("\n").find((line) => line.startsWith(`endpoint_rate_limit_rejections_total{route="${route}",policy="${policy}"}`)) ?? " -1")![1]);
      // 3 + 15 + 1 from the tests above (token), and on the address route: 1 + 1 + 1 + 2 + 1.
      expect(count("per-token", `token-${WEEK}s`)).toBe(3 + 15 + 1 + 1);
      expect(count("per-address", `address-${WEEK}s`)).toBe(1 + 1 + 2 + 1);
    });
  });
}

// Instances share limits through PostgreSQL (an embedded database has one server: dev-server).
const postgresBackend = testBackends().find((backend) => backend.name === "postgres");
if (postgresBackend)
  describe("postgres: two instances share one limit", () => {
    let first: TestEndpoint;
    let second: Awaited<ReturnType<typeof secondInstance>>;
    beforeAll(async () => {
      first = await startTestEndpoint(postgresBackend, { configFile: join(FIXTURES, "rate-limits.yaml"), routesDir: join(FIXTURES, "routes") });
      await first.addUser("ada");
      second = await secondInstance(first);
    });
    afterAll(async () => {
      await second.close();
      await first.close();
    });
    const on = (instance: { request: TestEndpoint["request"] }, token: string) => instance.request("/limited/shared", { token });

    test("together they answer exactly the limit (20), in bursts on both at once, and never more", async () => {
      const { token } = await first.tokenFor("ada", { name: "shared" });
      const answers: Response[] = [];
      for (let round = 0; round < 6; round++)
        answers.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => on(i % 2 ? second : first, token)))));
      const ok = statuses(answers).filter((status) => status === 200).length;
      // The stated bound: at most the limit while the database answers (it did: nothing was counted alone).
      expect([...first.logLines, ...second.logLines].join("\n")).not.toContain("rate_limit_counted_alone");
      expect(ok).toBeLessThanOrEqual(20);
      // And no permit is lost while both keep being asked: each uses what it holds.
      expect(ok).toBe(20);
      const ledger = await first.database.db.selectFrom("rate_limit_grants").select("granted").execute();
      expect(ledger.every((row) => row.granted <= 20)).toBe(true);
    });

    test("permits an instance holds go back when it stops, or when its callers go quiet, for the other to use", async () => {
      // One request on the second instance takes a batch (a quarter of 20, and the next batch early).
      const { token, id } = await first.tokenFor("ada", { name: "hand-back" });
      const bucket = new Bun.CryptoHasher("sha256").update(`shared\ntoken-${WEEK}s\nt:${id}\n${WEEK}`).digest("hex");
      const granted = async () =>
        (await first.database.db.selectFrom("rate_limit_grants").select("granted").where("bucket", "=", bucket).executeTakeFirstOrThrow()).granted;
      expect((await on(second, token)).status).toBe(200);
      expect(await granted()).toBeGreaterThanOrEqual(5);
      // Quiet for over two seconds: the second instance hands back what it did not use; the first gets all 19.
      await Bun.sleep(3_200);
      expect(await granted()).toBe(1);
      const rest: number[] = [];
      for (let i = 0; i < 21; i++) rest.push((await on(first, token)).status);
      expect(rest.filter((status) => status === 200).length).toBe(19);

      // Stopping hands back too: the first instance holds nothing it will not use when the second takes over.
      const { token: other } = await first.tokenFor("ada", { name: "stop" });
      const third = await secondInstance(first);
      expect((await on(third, other)).status).toBe(200);
      await third.close();
      const after: number[] = [];
      for (let i = 0; i < 21; i++) after.push((await on(first, other)).status);
      expect(after.filter((status) => status === 200).length).toBe(19);
    });
  });

/** Another instance of `server`'s Endpoint: its own pool, cache and limiter on the same database. */
async function secondInstance(server: TestEndpoint) {
  const database = await openDatabase(server.databaseUrl);
  const sink = memorySink();
  const endpoint = await assembleEndpoint({
    config: server.config,
    database,
    log: createLogger(sink, "debug"),
    mode: "development",
    routesDir: join(FIXTURES, "routes"),
    env: { ENDPOINT_SECRET: TEST_SECRET },
    peerAddress: () => "127.0.0.1",
  });
  return {
    logLines: sink.lines,
    request: ((path, init = {}) => {
      const headers = new Headers(init.headers);
      if (init.token) headers.set("authorization", `Bearer ${init.token}`);
      return endpoint.app.handle(new Request(server.origin + path, { ...init, headers }));
    }) as TestEndpoint["request"],
    async close() {
      await endpoint.shutdown();
      await database.close();
    },
  };
}

for (const backend of testBackends())
  test(`${backend.name}: when the database does not answer in time, each instance counts alone and still stops at the limit`, async () => {
    const fresh = await backend.create({ migrated: true });
    const database = await openDatabase(fresh.url);
    const sink = memorySink();
    const limiter = new RateLimiter(database.db, { now: Date.now, localNow: Date.now }, createLogger(sink, "debug"));
    // Another session holds the ledger locked: every request for permits waits past its one-second deadline.
    let unlock!: () => void;
    const locked = new Promise<void>((resolve) => (unlock = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const lock = database.db.transaction().execute(async (trx) => {
      await sql`lock table rate_limit_grants in access exclusive mode`.execute(trx);
      holding();
      await locked;
    });
    await held;
    try {
      const policies = [{ name: "token-3600s", limit: 3, windowSeconds: 3600, per: "token" as const }];
      const caller = { id: "u1", username: "ada", groups: [], via: "token" as const, tokenId: "t1" };
      const started = performance.now();
      const outcomes = [];
      for (let i = 0; i < 5; i++) outcomes.push(await limiter.take("route", policies, caller, () => "10.0.0.1"));
      expect(performance.now() - started).toBeGreaterThanOrEqual(990); // the first request waited for the deadline, once
      expect(outcomes.map((outcome) => outcome.refusedBy === null)).toEqual([true, true, true, false, false]);
      expect(outcomes[2]!.stateHeader).toMatch(/^"token-3600s";r=0;t=\d+$/);
      expect(sink.lines.filter((line) => line.includes("rate_limit_counted_alone")).length).toBe(1);
    } finally {
      unlock();
      await lock;
      await limiter.stop();
      await database.close();
      await fresh.drop();
    }
  });

for (const backend of testBackends())
  test(`${backend.name}: a bucket forgotten while idle reads its count back from the ledger`, async () => {
    const fresh = await backend.create({ migrated: true });
    const database = await openDatabase(fresh.url);
    let skipped = 0; // ms this instance's clock is moved on (no waiting for real seconds)
    const limiter = new RateLimiter(database.db, { now: Date.now, localNow: () => Date.now() + skipped }, createLogger(memorySink(), "debug"));
    try {
      const policies = [{ name: "route-3600s", limit: 8, windowSeconds: 3600, per: "route" as const }];
      const take = async (n: number) => {
        const admitted: boolean[] = [];
        for (let i = 0; i < n; i++) admitted.push((await limiter.take("forgetful", policies, null, () => undefined)).refusedBy === null);
        return admitted.filter(Boolean).length;
      };
      expect(await take(3)).toBe(3);
      expect(limiter.bucketCount).toBe(1);
      skipped += 15_000;
      await Bun.sleep(50); // the batch asked for ahead has arrived
      await limiter.settle(); // idle: unused permits go back, and holding nothing, the bucket is forgotten
      expect(limiter.bucketCount).toBe(0);
      const [row] = await database.db.selectFrom("rate_limit_grants").select("granted").execute();
      expect(row!.granted).toBe(3);
      expect(await take(10)).toBe(5);
    } finally {
      await limiter.stop();
      await database.close();
      await fresh.drop();
    }
  });

describe("addressKey", () => {
  test("IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64 in one spelling", () => {
    expect(addressKey("192.0.2.7")).toBe("192.0.2.7");
    expect(addressKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("2001:0db8:0000:0000:ffff::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey(undefined)).toBe("unknown");
  });
});
