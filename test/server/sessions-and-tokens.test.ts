// Sign-in, sessions, CSRF, throttling and API tokens over real Requests, on every backend.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { sql } from "kysely";
import { removeMember } from "../../src/accounts/groups.ts";
import { removeUser, setDisabled } from "../../src/accounts/users.ts";
import { accountRules } from "../../src/accounts/rules.ts";
import { revokeToken } from "../../src/accounts/tokens.ts";
import { testBackends } from "../support/backends.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const actor = { name: "tester", source: "cli" as const, recentlyAuthenticated: true };
const rules = accountRules();
/** Wait until `check` holds (caches follow NOTIFY asynchronously), at most `ms`. */
async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await Bun.sleep(20);
  }
  return check();
}

for (const backend of testBackends()) {
  describe(`${backend.name}: sessions`, () => {
    let server: TestEndpoint;
    const form = (fields: Record<string, string>, extra: Record<string, string> = {}) => ({
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost:8000", ...extra },
      body: new URLSearchParams(fields).toString(),
    });
    async function loginForm() {
      const page = await server.request("/login?next=%2Fprofile");
      const csrfCookie = page.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
      return { csrfCookie, csrf };
    }

    beforeAll(async () => {
      server = await startTestEndpoint(backend, { configFile: join(FIXTURES, "endpoint.yaml"), routesDir: join(FIXTURES, "routes") });
      await server.addUser("joe", ["users"]);
      await server.addUser("olga", ["ops"]);
    });
    afterAll(() => server.close());

    test("a browser that is not signed in is sent to the login page, and back afterwards", async () => {
      const response = await server.request("/profile", { headers: { accept: "text/html" } });
      expect(response.status).toBe(302);
      expect(response.headers.get("location")).toBe("/login?next=%2Fprofile");
      const { csrfCookie, csrf } = await loginForm();
      const login = await server.request("/login", { ...form({ username: "joe", password: PASSWORD, _csrf: csrf, next: "/profile" }), cookie: csrfCookie });
      expect(login.status).toBe(303);
      expect(login.headers.get("location")).toBe("/profile");
      const cookie = login.headers.getSetCookie().find((c) => c.startsWith("endpoint_session="))!;
      expect(cookie).toMatch(/^endpoint_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Lax$/);
      const page = await server.request("/profile", { cookie: cookie.split(";")[0] });
      expect(page.status).toBe(200);
      expect(page.headers.get("cache-control")).toBe("no-store");
    });

    test("an open redirect in next= lands on the home page instead", async () => {
      const { csrfCookie, csrf } = await loginForm();
      const login = await server.request("/login", { ...form({ username: "joe", password: PASSWORD, _csrf: csrf, next: "//evil.com" }), cookie: csrfCookie });
      expect(login.headers.get("location")).toBe("/");
    });

    test("a wrong password and an unknown user look the same", async () => {
      const { csrfCookie, csrf } = await loginForm();
      const wrong = await server.request("/login", { ...form({ username: "joe", password: "not the password!", _csrf: csrf }, { "x-test-peer": "10.9.9.1" }), cookie: csrfCookie });
      const unknown = await server.request("/login", { ...form({ username: "nobody", password: "not the password!", _csrf: csrf }, { "x-test-peer": "10.9.9.1" }), cookie: csrfCookie });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      const strip = (html: string) => html.replace(/value="[^"]*"/g, "");
      expect(strip(await wrong.text())).toBe(strip(await unknown.text()));
    });

    test("the login form refuses another origin and a missing token", async () => {
      const { csrfCookie, csrf } = await loginForm();
      const foreign = await server.request("/login", { ...form({ username: "joe", password: PASSWORD, _csrf: csrf }, { origin: "https://evil.example" }), cookie: csrfCookie });
      expect(foreign.status).toBe(403);
      const noToken = await server.request("/login", { ...form({ username: "joe", password: PASSWORD }), cookie: csrfCookie });
      expect(noToken.status).toBe(403);
      expect(foreign.headers.getSetCookie().some((c) => c.startsWith("endpoint_session="))).toBe(false);
    });

    test("credentials in a GET query do not sign anyone in", async () => {
      const response = await server.request(`/login?username=joe&password=${encodeURIComponent(PASSWORD)}`);
      expect(response.headers.getSetCookie().some((c) => c.startsWith("endpoint_session="))).toBe(false);
    });

    test("a planted session cookie is replaced at login and never becomes valid", async () => {
      const { csrfCookie, csrf } = await loginForm();
      const planted = "attacker".padEnd(43, "A");
      const login = await server.request("/login", { ...form({ username: "joe", password: PASSWORD, _csrf: csrf }), cookie: `${csrfCookie}; endpoint_session=${planted}` });
      const issued = login.headers.getSetCookie().find((c) => c.startsWith("endpoint_session="))!;
      expect(issued).not.toContain(planted);
      expect((await server.request("/profile", { cookie: `endpoint_session=${planted}` })).status).toBe(401);
    });

    test("only the session id's SHA-256 is stored", async () => {
      const { cookie } = await server.signIn("joe");
      const raw = cookie.split("=")[1]!;
      const rows = await server.database.db.selectFrom("sessions").selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(raw);
      expect(rows.map((r) => r.id_hash)).toContain(new Bun.CryptoHasher("sha256").update(raw).digest("hex"));
    });

    test("state-changing requests by session need our origin and the CSRF token; bearer requests need neither", async () => {
      const { cookie, csrfToken } = await server.signIn("olga");
      const post = (headers: Record<string, string>) =>
        server.request("/ops/echo", { method: "POST", cookie, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ name: "x" }) });
      expect((await post({ "x-csrf-token": csrfToken })).status).toBe(403); // no Origin, no Referer
      expect((await post({ origin: "https://evil.example", "x-csrf-token": csrfToken })).status).toBe(403);
      expect((await post({ origin: "null", "x-csrf-token": csrfToken })).status).toBe(403);
      expect((await post({ origin: server.origin })).status).toBe(403); // no token
      expect((await post({ origin: server.origin, "x-csrf-token": "wrong" })).status).toBe(403);
      expect((await post({ origin: server.origin, "x-csrf-token": csrfToken })).status).toBe(200);
      expect((await post({ referer: `${server.origin}/profile`, "x-csrf-token": csrfToken })).status).toBe(200);
      const { token } = await server.tokenFor("olga");
      const bearer = await server.request("/ops/echo", { method: "POST", token, headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "x" }) });
      expect(bearer.status).toBe(200);
    });

    test("a cookie-authenticated JSON route refuses a cross-site simple request", async () => {
      const { cookie, csrfToken } = await server.signIn("olga");
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
        const response = await server.request("/ops/echo", { method: "POST", cookie, headers: { "content-type": type, origin: "https://evil.example", "x-csrf-token": csrfToken }, body: "name=x" });
        expect([403, 415]).toContain(response.status);
      }
    });

    test("logout is a POST that ends the session on the server; GET does not log out", async () => {
      const { cookie, csrfToken } = await server.signIn("joe");
      expect((await server.request("/logout", { cookie })).status).toBe(405);
      const out = await server.request("/logout", { method: "POST", cookie, headers: { origin: server.origin, "content-type": "application/x-www-form-urlencoded" }, body: `_csrf=${csrfToken}` });
      expect(out.status).toBe(303);
      expect(out.headers.getSetCookie().find((c) => c.startsWith("endpoint_session="))).toMatch(/^endpoint_session=; Path=\/; Max-Age=0/);
      expect((await server.request("/profile", { cookie })).status).toBe(401);
    });

    test("sign out everywhere ends every session of the user", async () => {
      const first = await server.signIn("joe");
      const second = await server.signIn("joe");
      const out = await server.request("/logout/everywhere", { method: "POST", cookie: first.cookie, headers: { origin: server.origin, "x-csrf-token": first.csrfToken } });
      expect(out.status).toBe(303);
      expect(await within(1000, async () => (await server.request("/profile", { cookie: second.cookie })).status === 401)).toBe(true);
    });

    test("an idle session and one past its absolute lifetime are refused", async () => {
      const idle = await server.signIn("joe");
      const old = await server.signIn("joe");
      const hash = (cookie: string) => new Bun.CryptoHasher("sha256").update(cookie.split("=")[1]!).digest("hex");
      await server.database.db.updateTable("sessions").set({ last_seen_at: sql`now() - interval '31 minutes'` }).where("id_hash", "=", hash(idle.cookie)).execute();
      await server.database.db.updateTable("sessions").set({ created_at: sql`now() - interval '13 hours'` } as any).where("id_hash", "=", hash(old.cookie)).execute();
      server.endpoint.cache.clear(); // these rows were edited behind the server's back, without a NOTIFY
      expect((await server.request("/profile", { cookie: idle.cookie })).status).toBe(401);
      expect((await server.request("/profile", { cookie: old.cookie })).status).toBe(401);
    });

    test("failed logins from one address are throttled with 429 and Retry-After, even with the right password", async () => {
      const { csrfCookie, csrf } = await loginForm();
      const attempt = (password: string, username = "olga") =>
        server.request("/login", { ...form({ username, password, _csrf: csrf }, { "x-test-peer": "198.51.100.7" }), cookie: csrfCookie });
      for (let i = 0; i < 10; i++) expect((await attempt("wrong password!!", `guess${i}`)).status).toBe(401);
      const locked = await attempt(PASSWORD);
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
      await server.database.db.deleteFrom("login_throttle").execute(); // what unlock-user and time do
      expect((await attempt(PASSWORD)).status).toBe(303);
    });

    test("a forged X-Forwarded-For does not dodge the throttle when no proxy is trusted", async () => {
      const { csrfCookie, csrf } = await loginForm();
      const attempt = (forwardedFor: string) =>
        server.request("/login", {
          ...form({ username: `nobody${forwardedFor}`, password: "wrong password!!", _csrf: csrf }, { "x-test-peer": "192.0.2.50", "x-forwarded-for": forwardedFor }),
          cookie: csrfCookie,
        });
      for (let i = 0; i < 10; i++) expect((await attempt(`203.0.113.${i}`)).status).toBe(401);
      expect((await attempt("203.0.113.99")).status).toBe(429);
    });

    test("disabling the user ends their sessions at once", async () => {
      await server.addUser("dora", ["users"]);
      const { cookie } = await server.signIn("dora");
      expect((await server.request("/profile", { cookie })).status).toBe(200);
      await setDisabled(server.database.db, rules, actor, "dora", true);
      expect(await within(1000, async () => (await server.request("/profile", { cookie })).status === 401)).toBe(true);
    });
  });

  describe(`${backend.name}: API tokens`, () => {
    let server: TestEndpoint;
    const post = (token: string | undefined, path = "/service/echo") =>
      server.request(path, { method: "POST", token, headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "x" }) });

    beforeAll(async () => {
      server = await startTestEndpoint(backend, { configFile: join(FIXTURES, "endpoint.yaml"), routesDir: join(FIXTURES, "routes") });
      await server.addUser("hook", ["services"]);
      await server.addUser("joe", ["users"]);
    });
    afterAll(() => server.close());

    test("a service's token calls a token route; no token is 401 with WWW-Authenticate: Bearer", async () => {
      const { token } = await server.tokenFor("hook");
      expect((await post(token)).status).toBe(200);
      const missing = await post(undefined);
      expect(missing.status).toBe(401);
      expect(missing.headers.get("www-authenticate")).toStartWith("Bearer");
    });

    test("a token of someone outside the route's groups is 403 insufficient_scope", async () => {
      const { token } = await server.tokenFor("joe");
      const response = await post(token);
      expect(response.status).toBe(403);
      expect(response.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    });

    test("a token limited to other routes is 403 here", async () => {
      const { token } = await server.tokenFor("hook", { routes: ["echo"] });
      expect((await post(token)).status).toBe(403);
    });

    test("a token route ignores a session cookie: no ambient authority", async () => {
      const { cookie } = await server.signIn("hook");
      expect((await server.request("/service/echo", { method: "POST", cookie, headers: { "content-type": "application/json", origin: server.origin }, body: "{}" })).status).toBe(401);
    });

    test("a token in the query string is not a credential", async () => {
      const { token } = await server.tokenFor("hook");
      const response = await server.request(`/service/echo?access_token=${token}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "x" }) });
      expect(response.status).toBe(401);
      expect(server.logLines.join("\n")).not.toContain(token);
    });

    test("revocation, an expired record, a removed membership, a disabled or removed owner: each refused", async () => {
      const revoked = await server.tokenFor("hook");
      expect((await post(revoked.token)).status).toBe(200);
      await revokeToken(server.database.db, rules, actor, revoked.id);
      expect(await within(1000, async () => (await post(revoked.token)).status === 401)).toBe(true);

      const expiring = await server.tokenFor("hook", { expiresInSeconds: 1 });
      expect((await post(expiring.token)).status).toBe(200);
      await Bun.sleep(2100);
      expect((await post(expiring.token)).status).toBe(401);

      const member = await server.tokenFor("hook");
      await removeMember(server.database.db, rules, actor, "services", "hook");
      expect(await within(1000, async () => (await post(member.token)).status === 403)).toBe(true);

      await server.addUser("bot", ["services"]);
      const bot = await server.tokenFor("bot");
      expect((await post(bot.token)).status).toBe(200);
      await setDisabled(server.database.db, rules, actor, "bot", true);
      expect(await within(1000, async () => (await post(bot.token)).status === 401)).toBe(true);
      await setDisabled(server.database.db, rules, actor, "bot", false);
      expect(await within(1000, async () => (await post(bot.token)).status === 200)).toBe(true);
      await removeUser(server.database.db, rules, actor, "bot");
      expect(await within(1000, async () => (await post(bot.token)).status === 401)).toBe(true);
    });

    test("last used is written behind, at most once a minute, not once per request", async () => {
      await server.addUser("busy", ["services"]);
      const { token, id } = await server.tokenFor("busy");
      for (let i = 0; i < 100; i++) await post(token);
      await server.endpoint.shutdown(); // flushes what is pending
      const row = await server.database.db.selectFrom("api_tokens").select("last_used_at").where("id", "=", id).executeTakeFirstOrThrow();
      expect(row.last_used_at).not.toBeNull();
    });
  });
}
