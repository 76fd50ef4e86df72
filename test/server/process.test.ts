// The server as a real process on a real socket: start-up checks, the body limit, and a clean stop.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli } from "../support/cli.ts";

const work = mkdtempSync(join(tmpdir(), "endpoint-process-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Start `bun cli/main.ts <args>` and wait for its "listening on" line. */
async function startServer(args: string[], env: Record<string, string> = {}) {
  const child = Bun.spawn(["bun", join(ROOT, "cli", "main.ts"), ...args], {
    cwd: work,
    env: { ...process.env, DATABASE_URL: "", TEST_DATABASE_URL: "", ...env } as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = child.stderr.getReader();
  let seen = "";
  const deadline = Date.now() + 30_000;
  while (!/listening on (http:\/\/\S+)/.test(seen) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const url = /listening on (http:\/\/\S+)/.exec(seen)?.[1];
  if (!url) throw new Error(`server did not start: ${seen}`);
  return { child, url };
}

describe("the server process", () => {
  test("dev-server starts on a fresh embedded database, answers, and stops cleanly on SIGTERM", async () => {
    const { child, url } = await startServer(["dev-server", "--config", join(ROOT, "endpoint.yaml"), "--database-url", `pglite:${join(work, "dev-db")}`, "--port", "0"]);
    try {
      const health = await fetch(`${url}/healthz`);
      expect(await health.json()).toEqual({ status: "ok" });
      const ready = await fetch(`${url}/readyz`);
      const body = await ready.json();
      expect(ready.status).toBe(200);
      expect(body).toMatchObject({ status: "ready", database: "ok", pending_migrations: 0 });
      expect(body.config_hash).toMatch(/^[0-9a-f]{64}$/);
      // Over the body limit: refused at once, without reading 2 MiB.
      const big = await fetch(`${url}/hooks/events`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(2 * 1024 * 1024) });
      expect(big.status).toBe(413);
      // Bun's native router matches here, not Elysia's: the same tricks must not get past the guard.
      for (const trick of ["/events/", "/EVENTS", "//events", "/events/.", "/%65vents", "/events%2F", "/events;x", "/whoami/"]) {
        const response = await fetch(`${url}${trick}`, { redirect: "manual", headers: { accept: "application/json" } });
        expect({ trick, status: response.status }).toEqual({ trick, status: [401, 404].includes(response.status) ? response.status : -1 });
      }
      for (const method of ["HEAD", "OPTIONS"]) expect((await fetch(`${url}/events`, { method })).status).not.toBe(200);
      const home = await fetch(`${url}/`, { headers: { accept: "text/html" } });
      expect(home.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(await home.text()).toContain("<title>Home · Endpoint</title>");
    } finally {
      child.kill("SIGTERM");
    }
    expect(await child.exited).toBe(0);
  });

  test("serve refuses to start without ENDPOINT_SECRET, saying what to do", async () => {
    const db = `pglite:${join(work, "prod-db")}`;
    expect((await runCli(["init-db", "--database-url", db])).exitCode).toBe(0);
    const result = await runCli(["serve", "--config", join(ROOT, "endpoint.yaml"), "--database-url", db, "--port", "0"], { env: { ENDPOINT_SECRET: undefined }, cwd: work });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe("error: no ENDPOINT_SECRET: production needs a signing secret for API tokens; generate one with: openssl rand -base64 48");
  });

  test("serve refuses a weak secret", async () => {
    const db = `pglite:${join(work, "prod-db")}`;
    const result = await runCli(["serve", "--config", join(ROOT, "endpoint.yaml"), "--database-url", db, "--port", "0"], { env: { ENDPOINT_SECRET: "changeme" }, cwd: work });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toMatch(/^error: the signing secret \(ENDPOINT_SECRET or auth.secret\) is too weak: it is shorter than 32 bytes/);
  });

  test("serve refuses pending migrations and names the command to run", async () => {
    const db = `pglite:${join(work, "half-db")}`;
    expect((await runCli(["migrate", "up", "--database-url", db])).exitCode).toBe(1); // missing database: init-db first
    expect((await runCli(["init-db", "--database-url", db])).exitCode).toBe(0);
    expect((await runCli(["migrate", "down", "--database-url", db])).exitCode).toBe(0);
    const result = await runCli(["serve", "--config", join(ROOT, "endpoint.yaml"), "--database-url", db, "--port", "0"], {
      env: { ENDPOINT_SECRET: "a-long-and-random-enough-secret-value-0123456789" },
      cwd: work,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toMatch(/has 1 pending migration; apply them with: bun run cli migrate latest \(or start with --migrate\)$/);
  });

  test("the server refuses to start on a config that does not validate, printing the same lines as validate", async () => {
    const bad = join(work, "bad.yaml");
    writeFileSync(bad, "routes:\n  - name: a\n    path: /a\n    handler: example.status\n");
    const validate = await runCli(["validate", "--config", bad], { cwd: work });
    const serve = await runCli(["dev-server", "--config", bad, "--database-url", `pglite:${join(work, "bad-db")}`], { cwd: work });
    expect(serve.exitCode).toBe(1);
    expect(serve.stderr.trim()).toBe(`error: ${validate.stderr.trim()}`);
  });
});
