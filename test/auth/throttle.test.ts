// The password throttle cannot be raced: each attempt is reserved (one statement increments and returns the count)
// before any password is hashed. Current-password checks on /account count in it, and lock-outs are listed and
// lifted on the admin pages and with unlock-user / unlock-address.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { openDatabase } from "../../db/open.ts";
import { addressKey, usernameKey } from "../../src/auth/throttle.ts";
import { testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: the password throttle`, () => {
    let server: TestEndpoint;
    let admin: { cookie: string; csrfToken: string };
    const htmlForm = { "content-type": "application/x-www-form-urlencoded", accept: "text/html" };

    /** A sign-in attempt from `peer`, with a fresh login form (its CSRF cookie and field). */
    async function signInAttempt(username: string, password: string, peer: string): Promise<Response> {
      const form = await server.request("/login", { headers: { "x-test-peer": peer } });
      const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      return server.request("/login", {
        method: "POST",
        cookie: csrfCookie,
        headers: { ...htmlForm, origin: server.origin, "x-test-peer": peer },
        body: new URLSearchParams({ username, password, _csrf: field, next: "/" }).toString(),
      });
    }
    const submit = (path: string, fields: Record<string, string>, session = admin, peer = "127.0.0.1") =>
      server.request(path, {
        method: "POST",
        cookie: session.cookie,
        headers: { ...htmlForm, origin: server.origin, "x-test-peer": peer },
        body: new URLSearchParams({ _csrf: session.csrfToken, ...fields }).toString(),
      });

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      for (const name of ["vera", "walt", "xena"]) await server.addUser(name, ["users"]);
      admin = await server.signIn("root");
    });
    afterAll(() => server.close());

    test("40 concurrent wrong passwords for one account: 10 are checked, 30 are refused with 429 before hashing", async () => {
      // Each guess from its own address, so only the per-account limit applies.
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => signInAttempt("vera", `wrong guess number ${i}`, `203.0.113.${i + 1}`)));
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 401)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(30);
      for (const refused of answers.filter((r) => r.status === 429)) expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      const row = await server.database.db.selectFrom("login_throttle").select("failures").where("key", "=", usernameKey("vera")).executeTakeFirstOrThrow();
      expect(row.failures).toBe(40);
      // Locked: even the right password waits for the window.
      expect((await signInAttempt("vera", PASSWORD, "203.0.113.99")).status).toBe(429);
    });

    test("a right password gives its attempt back: ten good sign-ins from one address never lock it", async () => {
      for (let i = 0; i < 12; i++) expect((await signInAttempt("walt", PASSWORD, "198.51.100.20")).status).toBe(303);
    });

    test("guessing the current password on /account counts in the same throttle", async () => {
      const xena = await server.signIn("xena");
      const change = (current: string) => submit("/account/password", { current, password: "a brand new passphrase", repeat: "a brand new passphrase" }, xena, "198.51.100.30");
      for (let i = 0; i < 10; i++) {
        const wrong = await change(`not it ${i} at all`);
        expect(wrong.status).toBe(422);
        expect(await wrong.text()).toContain("Your current password is not right.");
      }
      const locked = await change(PASSWORD);
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await locked.text()).toContain("Too many wrong passwords");
      // The password did not change, and the same lock now refuses sign-in for that account.
      expect((await signInAttempt("xena", PASSWORD, "198.51.100.31")).status).toBe(429);
    });

    test("the admin lock-outs page lists locked names and addresses, and its button unlocks them", async () => {
      for (let i = 0; i < 10; i++) await signInAttempt(`nobody${i}`, "wrong password here", "198.51.100.7");
      // The address is locked: a user who never failed is refused there too.
      expect((await signInAttempt("walt", PASSWORD, "198.51.100.7")).status).toBe(429);
      const listing = await server.request("/admin/lockouts", { cookie: admin.cookie, headers: { accept: "text/html" } });
      const text = await listing.text();
      expect(listing.status).toBe(200);
      expect(text).toContain("198.51.100.7");
      expect(text).toContain("vera");
      const unlocked = await submit("/admin/lockouts/unlock", { kind: "address", subject: "198.51.100.7" });
      expect(unlocked.status).toBe(200);
      expect(await unlocked.text()).toContain("Address &#x27;198.51.100.7&#x27; unlocked.");
      expect((await signInAttempt("walt", PASSWORD, "198.51.100.7")).status).toBe(303);
      expect((await submit("/admin/lockouts/unlock", { kind: "user", subject: "vera" })).status).toBe(200);
      expect((await signInAttempt("vera", PASSWORD, "198.51.100.8")).status).toBe(303);
      const audit = await server.database.db.selectFrom("audit_log").select(["action", "target", "actor", "source"]).where("action", "in", ["address.unlock", "user.unlock"]).orderBy("id").execute();
      expect(audit).toEqual([
        { action: "address.unlock", target: "198.51.100.7", actor: "root", source: "web" },
        { action: "user.unlock", target: "vera", actor: "root", source: "web" },
      ]);
    });

    test("a bad unlock form re-renders the page with the reason", async () => {
      const bad = await submit("/admin/lockouts/unlock", { kind: "everyone", subject: "x" });
      expect(bad.status).toBe(422);
      expect(await bad.text()).toContain("choose a lock-out from the list");
    });
  });

  describe(`${backend.name}: unlock-user and unlock-address on the command line`, () => {
    test("unlock-address lifts an address's lock-out and leaves the names' alone; a bad address is a usage error", async () => {
      const fresh = await backend.create({ migrated: true });
      try {
        const cli = (...args: string[]) => runCli([...args, "--database-url", fresh.url]);
        const handle = await openDatabase(fresh.url);
        await handle.db
          .insertInto("login_throttle")
          .values([
            { key: addressKey("198.51.100.40"), failures: 10, window_started_at: sql`now()` },
            { key: usernameKey("yuri"), failures: 10, window_started_at: sql`now()` },
          ])
          .execute();
        await handle.close();
        expect((await cli("unlock-address", "--address", "198.51.100.40")).stdout.trim()).toBe("address 198.51.100.40 unlocked");
        expect((await cli("unlock-address", "--address", "198.51.100.40")).stdout.trim()).toBe("address 198.51.100.40 was not locked out");
        const bad = await cli("unlock-address", "--address", "not an address");
        expect([bad.exitCode, bad.stderr.trim()]).toEqual([2, "error: --address must be an IPv4 or IPv6 address (got 'not an address')"]);
        const check = await openDatabase(fresh.url);
        const left = await check.db.selectFrom("login_throttle").select("key").execute();
        const audit = await check.db.selectFrom("audit_log").select(["action", "target", "source"]).where("action", "=", "address.unlock").execute();
        await check.close();
        expect(left.map((r) => r.key)).toEqual([usernameKey("yuri")]);
        expect(audit).toEqual([
          { action: "address.unlock", target: "198.51.100.40", source: "cli" },
          { action: "address.unlock", target: "198.51.100.40", source: "cli" },
        ]);
      } finally {
        await fresh.drop();
      }
    });
  });
}
