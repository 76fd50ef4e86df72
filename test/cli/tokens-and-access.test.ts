// token create|list|revoke, unlock-user, routes and can through the real CLI entry point.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { join } from "node:path";
import { sql } from "kysely";
import { compactWindow } from "../../cli/commands/access.ts";
import { openDatabase } from "../../db/open.ts";
import { ROOT, runCli } from "../support/cli.ts";

const SECRET = "cli-test-secret-0123456789-abcdefghijklmnop";

for (const backend of testBackends()) {
  describe(`${backend.name}: tokens, routes and can`, () => {
    let database: FreshDatabase;
    const cli = (...args: string[]) => runCli([...args, "--database-url", database.url], { env: { ENDPOINT_SECRET: SECRET } });

    beforeAll(async () => {
      database = await backend.create({ migrated: true });
      for (const args of [
        ["add-user", "--username", "ci", "--password", "ci password 12345"],
        ["add-user", "--username", "joe", "--password", "joe password 12345"],
        ["add-group", "--groupname", "services"],
        ["add-group", "--groupname", "users"],
        ["add-group-member", "--groupname", "services", "--membername", "ci"],
        ["add-group-member", "--groupname", "users", "--membername", "joe"],
      ])
        expect((await cli(...args)).exitCode).toBe(0);
    });
    afterAll(() => database.drop());

    test("token create prints the token once, on stdout alone; list never shows it", async () => {
      const created = await cli("token", "create", "--username", "ci", "--name", "deploy", "--expires", "30d", "--routes", "webhook");
      expect(created.exitCode).toBe(0);
      const token = created.stdout.trim();
      expect(token).toMatch(/^ept_eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(created.stderr).toContain("shown only this once");
      const listed = await cli("token", "list", "--json");
      expect(listed.stdout).not.toContain("ept_");
      const [record] = JSON.parse(listed.stdout);
      expect(record).toMatchObject({ owner: "ci", name: "deploy", routes: ["webhook"], revoked_at: null, last_used_at: null });
      const days = (Date.parse(record.expires_at) - Date.parse(record.created_at)) / 86_400_000;
      expect(Math.round(days)).toBe(30);
      const table = await cli("token", "list", "--username", "joe");
      expect(table.stdout.trim().split("\n")).toHaveLength(1); // the header only
    });

    test("token create refuses an unknown route, a bad duration and an unknown user", async () => {
      const route = await cli("token", "create", "--username", "ci", "--name", "x", "--routes", "webhok");
      expect(route.stderr.trim()).toBe("error: no route is named 'webhok'; see: bun run cli routes");
      expect(route.exitCode).toBe(1);
      const duration = await cli("token", "create", "--username", "ci", "--name", "x", "--expires", "soon");
      expect(duration.stderr.trim()).toBe("error: --expires must be a duration such as 30d, 12h or 45m (got 'soon')");
      expect(duration.exitCode).toBe(2);
      const user = await cli("token", "create", "--username", "nobody", "--name", "x");
      expect(user.stderr.trim()).toBe("error: user 'nobody' does not exist");
      const long = await cli("token", "create", "--username", "ci", "--name", "x", "--expires", "9999d");
      expect(long.stderr.trim()).toMatch(/^error: --expires is longer than the allowed maximum/);
    });

    test("token revoke marks it revoked; revoking twice or an unknown id says so", async () => {
      const [record] = JSON.parse((await cli("token", "list", "--json")).stdout);
      expect((await cli("token", "revoke", "--id", record.id)).stdout.trim()).toBe(`token ${record.id} revoked`);
      const again = await cli("token", "revoke", "--id", record.id);
      expect(again.stderr.trim()).toBe(`error: token '${record.id}' is already revoked`);
      const unknown = await cli("token", "revoke", "--id", "not-a-uuid");
      expect(unknown.stderr.trim()).toBe("error: token 'not-a-uuid' does not exist");
      expect(unknown.exitCode).toBe(1);
    });

    test("routes lists built-in and declared routes with access and credentials", async () => {
      const result = await cli("routes");
      expect(result.stdout.split("\n")[0]).toMatch(/^METHOD\s+PATH\s+NAME\s+HANDLER\s+ACCESS\s+AUTH\s+LIMITS\s+CORS$/);
      expect(result.stdout).toMatch(/POST\s+\/hooks\/events\s+webhook\s+example\.receiveEvent\s+groups: services\s+token/);
      expect(result.stdout).toMatch(/GET\s+\/healthz\s+healthz\s+builtin:healthz\s+public/);
      const json = JSON.parse((await cli("routes", "--json")).stdout);
      expect(json.find((r: { name: string }) => r.name === "events")).toMatchObject({ method: "GET", path: "/events", groups: ["users"], auth: ["session"], origin: "config" });
    });

    test("can says yes or no, and which rule decides", async () => {
      const yes = await cli("can", "--username", "joe", "--route", "events");
      expect(yes.stdout.trim()).toBe("yes: user 'joe' (by session) may call 'events' (GET /events): member of group users");
      expect(yes.exitCode).toBe(0);
      const no = await cli("can", "--username", "joe", "--route", "webhook");
      expect(no.stdout.trim()).toBe("no: user 'joe' (by token) may not call 'webhook' (POST /hooks/events): not a member of any of: services");
      expect(no.exitCode).toBe(1);
      const created = await cli("token", "create", "--username", "ci", "--name", "scoped", "--routes", "whoami");
      const [scoped] = JSON.parse((await cli("token", "list", "--json")).stdout).filter((t: { name: string }) => t.name === "scoped");
      expect(created.exitCode).toBe(0);
      const outOfScope = await cli("can", "--token", scoped.id, "--route", "webhook");
      expect(outOfScope.stdout.trim()).toBe(`no: token ${scoped.id} of 'ci' may not call 'webhook' (POST /hooks/events): token is limited to routes whoami`);
      const unknownRoute = await cli("can", "--username", "joe", "--route", "nope");
      expect(unknownRoute.stderr.trim()).toBe("error: no route is named 'nope'; see: bun run cli routes");
    });

    test("can says no for a token whose record ended by the database's clock", async () => {
      expect((await cli("token", "create", "--username", "ci", "--name", "ending", "--routes", "whoami")).exitCode).toBe(0);
      const [ending] = JSON.parse((await cli("token", "list", "--json")).stdout).filter((t: { name: string }) => t.name === "ending");
      expect((await cli("can", "--token", ending.id, "--route", "whoami")).exitCode).toBe(0);
      const handle = await openDatabase(database.url);
      await handle.db.updateTable("api_tokens").set({ expires_at: sql<Date>`now() - interval '1 minute'` }).where("id", "=", ending.id).execute();
      await handle.close();
      const ended = await cli("can", "--token", ending.id, "--route", "whoami");
      expect(ended.stdout.trim()).toBe(`no: token ${ending.id} has expired`);
      expect(ended.exitCode).toBe(1);
    });

    test("unlock-user lifts a login lock-out", async () => {
      const none = await cli("unlock-user", "--username", "joe");
      expect(none.stdout.trim()).toBe("user 'joe' was not locked out");
    });
  });
}

describe("routes: rate limits and CORS", () => {
  const FIXTURES = join(ROOT, "test", "server", "fixtures");
  const routes = (fixture: string, ...args: string[]) => runCli(["routes", "--config", join(FIXTURES, fixture), ...args]);
  type Row = { name: string; origin: string; rate_limits: unknown; cors: unknown };
  const lineOf = (stdout: string, name: string) => stdout.split("\n").find((line) => line.split(/\s+/)[2] === name);

  test("windows are written in their largest whole unit", () => {
    expect([60, 3600, 86400, 604800, 2, 90, 5400, 172800].map(compactWindow)).toEqual(["1m", "1h", "1d", "7d", "2s", "90s", "90m", "2d"]);
  });

  test("LIMITS shows each limit as limit/window per key; - when none; built-ins but the health probes get server.rate_limit", async () => {
    const result = await routes("rate-limits.yaml");
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.split("\n")[0]).toMatch(/^METHOD\s+PATH\s+NAME\s+HANDLER\s+ACCESS\s+AUTH\s+LIMITS\s+CORS$/);
    expect(lineOf(result.stdout, "per-token")).toMatch(/\s5\/7d per token\s+-$/);
    expect(lineOf(result.stdout, "two-limits")).toMatch(/\s4\/7d per user, 6\/7d per route\s+-$/);
    expect(lineOf(result.stdout, "short-window")).toMatch(/\s2\/2s per route\s+-$/);
    expect(lineOf(result.stdout, "unlimited")).toMatch(/\spublic\s+-\s+-\s+-$/);
    expect(lineOf(result.stdout, "defaulted")).toMatch(/\s40\/7d per address\s+-$/);
    expect(lineOf(result.stdout, "healthz")).toMatch(/\spublic\s+-\s+-\s+-$/);
    expect(lineOf(result.stdout, "readyz")).toMatch(/\spublic\s+-\s+-\s+-$/);
    expect(lineOf(result.stdout, "login")).toMatch(/\s40\/7d per address\s+-$/);
  });

  test("--json gives rate_limits and cors: null without them", async () => {
    const json = JSON.parse((await routes("rate-limits.yaml", "--json")).stdout) as Row[];
    const byName = (name: string) => json.find((row) => row.name === name)!;
    expect(byName("two-limits")).toMatchObject({
      rate_limits: [
        { name: "user-604800s", limit: 4, window_seconds: 604800, per: "user" },
        { name: "everyone", limit: 6, window_seconds: 604800, per: "route" },
      ],
      cors: null,
    });
    expect(byName("per-token").rate_limits).toEqual([{ name: "token-604800s", limit: 5, window_seconds: 604800, per: "token" }]);
    expect(byName("unlimited").rate_limits).toEqual([]);
    const serverLimit = [{ name: "address-604800s", limit: 40, window_seconds: 604800, per: "address" }];
    expect(byName("defaulted").rate_limits).toEqual(serverLimit);
    // Every built-in but the health probes has server.rate_limit.
    for (const row of json.filter((row) => row.origin === "builtin"))
      expect([row.name, row.rate_limits]).toEqual([row.name, ["healthz", "readyz"].includes(row.name) ? [] : serverLimit]);
  });

  test("CORS shows the origins, +credentials when cookies may be sent; --json gives the whole policy", async () => {
    const result = await routes("cors.yaml");
    expect(result.exitCode, result.stderr).toBe(0);
    expect(lineOf(result.stdout, "whoami")).toMatch(/\s-\s+https:\/\/app\.example$/);
    expect(lineOf(result.stdout, "shared-echo")).toMatch(/\s-\s+https:\/\/app\.example \+credentials$/);
    expect(lineOf(result.stdout, "open-echo")).toMatch(/\s-\s+\*$/);
    expect(lineOf(result.stdout, "markup")).toMatch(/\s-\s+https:\/\/default\.example$/);
    expect(lineOf(result.stdout, "healthz")).toMatch(/\s-\s+-$/);
    const json = JSON.parse((await routes("cors.yaml", "--json")).stdout) as Row[];
    const byName = (name: string) => json.find((row) => row.name === name)!;
    expect(byName("whoami").cors).toEqual({ origins: ["https://app.example"], methods: ["GET"], headers: ["Authorization"], max_age: 300, credentials: false });
    expect(byName("shared-echo").cors).toEqual({ origins: ["https://app.example"], methods: ["POST"], headers: ["Content-Type", "X-CSRF-Token"], max_age: 600, credentials: true });
    expect(byName("markup").cors).toEqual({ origins: ["https://default.example"], methods: ["GET"], headers: ["Authorization", "Content-Type"], max_age: 600, credentials: false });
    expect(byName("healthz").cors).toBeNull();
    expect(byName("whoami").rate_limits).toEqual([]);
  });
});
