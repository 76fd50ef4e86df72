// Two server processes sharing one PostgreSQL behave as one site: a session made on one works on the other,
// and revocations, membership changes and logouts made anywhere reach both within a second.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { ROOT, runCli } from "../support/cli.ts";

const SECRET = "instances-secret-0123456789-abcdefghijklmnopqrs";
const ORIGIN = "http://localhost:8000"; // endpoint.yaml's public_url: both instances sit behind it

/** As the proxy in front does: every request is addressed to public_url's host, whichever instance it reaches. */
const viaProxy = (url: string, init: RequestInit = {}) => fetch(url, { ...init, headers: { host: "localhost:8000", ...(init.headers as Record<string, string>) } });
const postgresBackend = testBackends().find((b) => b.name === "postgres");
if (!postgresBackend) console.log("instances.test.ts: no PostgreSQL (set DATABASE_URL or TEST_DATABASE_URL); the multi-instance tests need one");

async function startInstance(databaseUrl: string) {
  const child = Bun.spawn(["bun", join(ROOT, "cli", "main.ts"), "serve", "--database-url", databaseUrl, "--port", "0"], {
    cwd: ROOT,
    env: { ...process.env, ENDPOINT_SECRET: SECRET, DATABASE_URL: "" } as Record<string, string>,
    stdout: "ignore",
    stderr: "pipe",
  });
  const reader = child.stderr.getReader();
  let seen = "";
  while (!/listening on (http:\/\/\S+)/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`instance did not start: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { child, url: /listening on (http:\/\/\S+)/.exec(seen)![1]! };
}

/** Poll until `check` holds, for at most `ms`; returns how long it took, or -1. */
async function takesAtMost(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started <= ms) {
    if (await check()) return Date.now() - started;
    await Bun.sleep(25);
  }
  return -1;
}

describe.skipIf(!postgresBackend)("two instances on one PostgreSQL", () => {
  let database: FreshDatabase;
  let a: Awaited<ReturnType<typeof startInstance>>;
  let b: Awaited<ReturnType<typeof startInstance>>;
  const cli = (...args: string[]) => runCli([...args, "--database-url", database.url], { env: { ENDPOINT_SECRET: SECRET } });

  async function signIn(base: string, username: string) {
    const page = await viaProxy(`${base}/login`);
    const csrfCookie = page.headers.getSetCookie()[0]!.split(";")[0]!;
    const field = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const response = await viaProxy(`${base}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, cookie: csrfCookie },
      body: new URLSearchParams({ username, password: "a long password 123", _csrf: field }).toString(),
    });
    expect(response.status).toBe(303);
    return response.headers.getSetCookie().find((c) => c.startsWith("endpoint_session="))!.split(";")[0]!;
  }

  beforeAll(async () => {
    database = await postgresBackend!.create({ migrated: true });
    for (const args of [
      ["add-user", "--username", "joe", "--password", "a long password 123"],
      ["add-user", "--username", "ci", "--password", "a long password 123"],
      ["add-group", "--groupname", "users"],
      ["add-group", "--groupname", "services"],
      ["add-group-member", "--groupname", "users", "--membername", "joe"],
      ["add-group-member", "--groupname", "services", "--membername", "ci"],
    ])
      expect((await cli(...args)).exitCode).toBe(0);
    [a, b] = await Promise.all([startInstance(database.url), startInstance(database.url)]);
  });
  afterAll(async () => {
    for (const instance of [a, b]) instance?.child.kill("SIGTERM");
    await Promise.all([a?.child.exited, b?.child.exited]);
    await database?.drop();
  });

  test("a session made through one instance works on the other", async () => {
    const cookie = await signIn(a.url, "joe");
    expect((await viaProxy(`${b.url}/events`, { headers: { cookie } })).status).toBe(200);
  });

  test("a revoked token is refused by the other instance within a second", async () => {
    const token = (await cli("token", "create", "--username", "ci", "--name", "hook")).stdout.trim();
    const call = (base: string) =>
      viaProxy(`${base}/hooks/events`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ kind: "deploy" }) });
    expect((await call(a.url)).status).toBe(201);
    expect((await call(b.url)).status).toBe(201);
    const [record] = JSON.parse((await cli("token", "list", "--json")).stdout);
    expect((await cli("token", "revoke", "--id", record.id)).exitCode).toBe(0);
    expect(await takesAtMost(1000, async () => (await call(b.url)).status === 401)).toBeGreaterThanOrEqual(0);
    expect((await call(a.url)).status).toBe(401);
  });

  test("a removed membership is refused by the other instance within a second", async () => {
    const cookie = await signIn(a.url, "joe");
    expect((await viaProxy(`${b.url}/events`, { headers: { cookie } })).status).toBe(200);
    expect((await cli("remove-group-member", "--groupname", "users", "--membername", "joe")).exitCode).toBe(0);
    expect(await takesAtMost(1000, async () => (await viaProxy(`${b.url}/events`, { headers: { cookie } })).status === 403)).toBeGreaterThanOrEqual(0);
  });

  test("a logout through one instance ends the session on the other within a second", async () => {
    const cookie = await signIn(a.url, "joe");
    expect((await viaProxy(`${b.url}/whoami`, { headers: { cookie } })).status).toBe(200);
    const home = await (await viaProxy(`${a.url}/`, { headers: { cookie } })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(home)![1]!;
    const out = await viaProxy(`${a.url}/logout`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, origin: ORIGIN, "content-type": "application/x-www-form-urlencoded" },
      body: `_csrf=${csrf}`,
    });
    expect(out.status).toBe(303);
    expect(await takesAtMost(1000, async () => (await viaProxy(`${b.url}/whoami`, { headers: { cookie } })).status === 401)).toBeGreaterThanOrEqual(0);
  });

  test("failed logins counted on both instances add up to one lock-out", async () => {
    const attempt = async (base: string) => {
      const page = await viaProxy(`${base}/login`);
      const csrfCookie = page.headers.getSetCookie()[0]!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
      return viaProxy(`${base}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, cookie: csrfCookie },
        body: new URLSearchParams({ username: "ci", password: "wrong password!!", _csrf: field }).toString(),
      });
    };
    for (let i = 0; i < 10; i++) expect((await attempt(i % 2 ? a.url : b.url)).status).toBe(401);
    expect((await attempt(a.url)).status).toBe(429);
    expect((await attempt(b.url)).status).toBe(429);
    expect((await cli("unlock-user", "--username", "ci")).stdout.trim()).toBe("user 'ci' unlocked");
  });

  test("a token's rate limit is one limit across both processes: exactly 600 a minute on the webhook, then 429", async () => {
    const token = (await cli("token", "create", "--username", "ci", "--name", "limited")).stdout.trim();
    const call = (base: string) =>
      viaProxy(`${base}/hooks/events`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ kind: "limited" }) });
    // endpoint.yaml: 600 a minute per token, windows starting each minute. Start early in a window, so all of the
    // requests below fall in one.
    const first = await call(a.url);
    expect(first.status).toBe(201);
    const secondsLeft = Number(/;t=(\d+)$/.exec(first.headers.get("ratelimit")!)![1]);
    if (secondsLeft < 15) {
      await Bun.sleep(secondsLeft * 1000 + 200);
      expect((await call(a.url)).status).toBe(201);
    }
    // 699 more, 20 at a time, alternating between the two processes.
    const statuses: number[] = [];
    for (let sent = 0; sent < 699; sent += 21)
      statuses.push(...(await Promise.all(Array.from({ length: Math.min(21, 699 - sent) }, (_, i) => call(i % 2 ? a.url : b.url).then((r) => r.status)))));
    const answered = statuses.filter((status) => status === 201).length + 1;
    expect(statuses.filter((status) => status !== 201 && status !== 429)).toEqual([]);
    expect(answered).toBe(600);
    const refused = await call(b.url);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("ratelimit-policy")).toBe('"token-60s";q=600;w=60');
  }, 120_000);
});

