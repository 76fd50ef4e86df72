// Sudo mode: a browser session whose password was typed longer ago than auth.session.reauth_after (15m by default)
// must confirm it before a sensitive change — making a token, adding or removing an administrator, disabling or
// deleting a user, deleting a group. The API answers 403 reauth_required; a page asks for the password and then
// carries the original form out in the same request. API tokens and the CLI are never asked.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

type Session = { cookie: string; csrfToken: string };

const idHashOf = (session: Session) => new Bun.CryptoHasher("sha256").update(session.cookie.split("=")[1]!).digest("hex");

/** The form a confirmation page shows: where it posts and every field it carries (hidden or not). */
function confirmationForm(html: string): { action: string; hidden: Record<string, string>; passwordField: string | undefined } {
  const decode = (text: string) =>
    text.replaceAll("&quot;", '"').replaceAll("&#34;", '"').replaceAll("&#x27;", "'").replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
  const form = /<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/.exec(html.slice(html.indexOf("<main") === -1 ? 0 : html.indexOf("<main")));
  if (!form) throw new Error("no form on the page");
  const hidden: Record<string, string> = {};
  for (const [, name, value] of form[2]!.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/g)) hidden[decode(name!)] = decode(value!);
  const passwordField = /<input type="password" name="([^"]*)"/.exec(form[2]!)?.[1];
  return { action: decode(form[1]!), hidden, passwordField };
}

for (const backend of testBackends()) {
  describe(`${backend.name}: sudo mode`, () => {
    let server: TestEndpoint;
    let adminToken: string;

    /** Pretend the password was typed 11 hours ago (the session itself is still valid: 12h absolute, 30m idle). */
    async function makeStale(session: Session) {
      const idHash = idHashOf(session);
      await sql`update sessions set authenticated_at = now() - interval '11 hours' where id_hash = ${idHash}`.execute(server.database.db);
      server.endpoint.cache.forgetSession(idHash);
    }
    const staleSignIn = async (username: string) => {
      const session = await server.signIn(username);
      await makeStale(session);
      return session;
    };
    const api = (session: Session, method: string, path: string, body?: unknown) =>
      server.request(path, {
        method,
        cookie: session.cookie,
        headers: { origin: server.origin, "x-csrf-token": session.csrfToken, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const submit = (session: Session, path: string, fields: Record<string, string>, peer = "127.0.0.1") =>
      server.request(path, {
        method: "POST",
        cookie: session.cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html", "x-test-peer": peer },
        body: new URLSearchParams({ _csrf: session.csrfToken, ...fields }).toString(),
      });

    const db = () => server.database.db;
    const isDisabled = async (username: string) => (await db().selectFrom("users").select("disabled").where("username", "=", username).executeTakeFirst())?.disabled;
    const userExists = async (username: string) => (await isDisabled(username)) !== undefined;
    const groupExists = async (name: string) => (await db().selectFrom("groups").select("id").where("name", "=", name).executeTakeFirst()) !== undefined;
    const membersOf = async (group: string) =>
      (
        await db()
          .selectFrom("group_members")
          .innerJoin("groups", "groups.id", "group_members.group_id")
          .innerJoin("users", "users.id", "group_members.user_id")
          .select("users.username")
          .where("groups.name", "=", group)
          .orderBy("users.username")
          .execute()
      ).map((r) => r.username);
    const tokenCount = async () => Number((await db().selectFrom("api_tokens").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
    const authenticatedAt = async (session: Session) =>
      (await db().selectFrom("sessions").select("authenticated_at").where("id_hash", "=", idHashOf(session)).executeTakeFirstOrThrow()).authenticated_at;

    /** Everything the sensitive requests below could have changed. */
    const snapshot = async () => ({
      tokens: await tokenCount(),
      admins: await membersOf("admin"),
      danDisabled: await isDisabled("dan"),
      danExists: await userExists("dan"),
      crewExists: await groupExists("crew"),
    });

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      await server.addUser("otto", ["admin"]);
      await server.addUser("dan", ["users", "crew"]);
      await server.addUser("kim", ["users"]);
      await server.addUser("lee");
      adminToken = (await server.tokenFor("root")).token;
    });
    afterAll(() => server.close());

    test("a session just signed in makes sensitive changes without being asked for the password", async () => {
      const fresh = await server.signIn("root");
      expect((await api(fresh, "PATCH", "/api/users/lee", { disabled: true })).status).toBe(200);
      expect(await isDisabled("lee")).toBe(true);
      expect((await api(fresh, "PATCH", "/api/users/lee", { disabled: false })).status).toBe(200);
      const made = await submit(fresh, "/admin/users/lee/tokens", { name: "fresh" });
      expect(made.status).toBe(200);
      expect(await made.text()).toMatch(/value="ept_[^"]+"/);
    });

    const sensitiveApi: Array<{ what: string; method: string; path: string; body?: unknown }> = [
      { what: "creating a token", method: "POST", path: "/api/tokens", body: { name: "laptop" } },
      { what: "creating a token for another user", method: "POST", path: "/api/tokens", body: { name: "ci", username: "dan" } },
      { what: "making someone an administrator", method: "PUT", path: "/api/groups/admin/members/dan" },
      { what: "removing an administrator", method: "DELETE", path: "/api/groups/admin/members/otto" },
      { what: "disabling a user", method: "PATCH", path: "/api/users/dan", body: { disabled: true } },
      { what: "deleting a user", method: "DELETE", path: "/api/users/dan" },
      { what: "deleting a group", method: "DELETE", path: "/api/groups/crew" },
    ];
    test("over the API, a session whose password is old is refused sensitive changes with 403 reauth_required, and nothing changes", async () => {
      const stale = await staleSignIn("root");
      const before = await snapshot();
      expect(before).toEqual({ tokens: before.tokens, admins: ["otto", "root"], danDisabled: false, danExists: true, crewExists: true });
      for (const r of sensitiveApi) {
        const response = await api(stale, r.method, r.path, r.body);
        expect({ what: r.what, status: response.status, type: response.headers.get("content-type") }).toEqual({
          what: r.what,
          status: 403,
          type: "application/problem+json; charset=utf-8",
        });
        expect((await response.json()).code).toBe("reauth_required");
      }
      expect(await snapshot()).toEqual(before);
    });

    test("a session whose password is old still does what is not sensitive", async () => {
      expect((await server.request("/api/users/kim", { method: "PATCH", token: adminToken, headers: { "content-type": "application/json" }, body: JSON.stringify({ disabled: true }) })).status).toBe(200);
      const stale = await staleSignIn("root");
      expect((await api(stale, "GET", "/api/users")).status).toBe(200);
      expect((await api(stale, "PUT", "/api/groups/crew/members/lee")).status).toBe(201);
      expect(await membersOf("crew")).toEqual(["dan", "lee"]);
      expect((await api(stale, "DELETE", "/api/groups/crew/members/lee")).status).toBe(204);
      const enabled = await api(stale, "PATCH", "/api/users/kim", { disabled: false });
      expect(enabled.status).toBe(200);
      expect(await enabled.json()).toMatchObject({ username: "kim", disabled: false });
      expect((await api(stale, "POST", "/api/groups", { name: "readers" })).status).toBe(201);
    });

    const sensitiveForms: Array<{ what: string; path: string; fields: Record<string, string> }> = [
      { what: "creating a token for a user", path: "/admin/users/dan/tokens", fields: { name: "ci" } },
      { what: "making someone an administrator", path: "/admin/groups/admin/members", fields: { username: "dan" } },
      { what: "removing an administrator", path: "/admin/groups/admin/members/remove", fields: { username: "otto" } },
      { what: "disabling a user", path: "/admin/users/dan/disable", fields: {} },
      { what: "deleting a user", path: "/admin/users/dan/delete", fields: {} },
      { what: "deleting a group", path: "/admin/groups/crew/delete", fields: {} },
      { what: "creating one's own token on the account page", path: "/account/tokens", fields: { name: "laptop", days: "7" } },
    ];
    test("a page form from a session whose password is old shows “Confirm your password”, carrying the form, and changes nothing", async () => {
      const stale = await staleSignIn("root");
      const before = await snapshot();
      for (const r of sensitiveForms) {
        const response = await submit(stale, r.path, r.fields);
        const html = await response.text();
        expect({ what: r.what, status: response.status, type: response.headers.get("content-type") }).toEqual({ what: r.what, status: 403, type: "text/html; charset=utf-8" });
        expect(html).toContain("<title>Confirm your password · Endpoint</title>");
        expect(response.headers.get("cache-control")).toBe("no-store");
        expect({ what: r.what, form: confirmationForm(html) }).toEqual({
          what: r.what,
          form: { action: r.path, hidden: { _csrf: stale.csrfToken, ...r.fields }, passwordField: "_sudo_password" },
        });
      }
      expect(await snapshot()).toEqual(before);
    });

    test("a wrong password on the confirmation page is refused, the form is offered again, and nothing changes", async () => {
      const stale = await staleSignIn("root");
      const asked = confirmationForm(await (await submit(stale, "/admin/users/dan/disable", {})).text());
      const before = await snapshot();
      const wrong = await submit(stale, asked.action, { ...asked.hidden, _sudo_password: "not my password at all" });
      expect(wrong.status).toBe(401);
      const html = await wrong.text();
      expect(html).toContain("That password is not right.");
      expect(confirmationForm(html)).toEqual({ action: "/admin/users/dan/disable", hidden: { _csrf: stale.csrfToken }, passwordField: "_sudo_password" });
      expect(html).not.toContain("not my password at all");
      expect(await snapshot()).toEqual(before);
      // Still not confirmed: the next sensitive change asks again.
      expect((await api(stale, "PATCH", "/api/users/dan", { disabled: true })).status).toBe(403);
    });

    test("the right password carries the action out in the same request, and the next sensitive change is not asked again", async () => {
      const stale = await staleSignIn("root");
      const asked = confirmationForm(await (await submit(stale, "/admin/users/dan/disable", {})).text());
      const confirmed = await submit(stale, asked.action, { ...asked.hidden, _sudo_password: PASSWORD });
      expect(confirmed.status).toBe(200);
      expect(await confirmed.text()).toContain("User disabled; their sessions have ended.");
      expect(await isDisabled("dan")).toBe(true);
      expect(Date.now() - (await authenticatedAt(stale)).getTime()).toBeLessThan(60_000);
      // Right after: another sensitive change, by page and by API, goes through at once.
      const made = await submit(stale, "/admin/users/lee/tokens", { name: "after confirming" });
      expect(made.status).toBe(200);
      expect(await made.text()).toMatch(/value="ept_[^"]+"/);
      expect((await api(stale, "PUT", "/api/groups/admin/members/lee")).status).toBe(201);
      expect((await api(stale, "DELETE", "/api/groups/admin/members/lee")).status).toBe(204);
      expect((await api(stale, "PATCH", "/api/users/dan", { disabled: false })).status).toBe(200);
    });

    test("on the account page, confirming the password shows the new token once, and it works", async () => {
      const stale = await staleSignIn("kim");
      // Quotes, markup, "&" and an already-escaped-looking "&amp;" all come back through the confirmation unchanged.
      const name = `kim's "laptop" <b>home</b> & R&amp;D`;
      const asked = await submit(stale, "/account/tokens", { name, days: "30" });
      expect(asked.status).toBe(403);
      const form = confirmationForm(await asked.text());
      expect(form.hidden).toEqual({ _csrf: stale.csrfToken, name, days: "30" });
      const before = await tokenCount();
      const confirmed = await submit(stale, form.action, { ...form.hidden, _sudo_password: PASSWORD });
      expect(confirmed.status).toBe(200);
      const token = /value="(ept_[^"]+)"/.exec(await confirmed.text())?.[1];
      expect(token).toBeDefined();
      expect(await tokenCount()).toBe(before + 1);
      expect(await (await server.request("/whoami", { token })).json()).toMatchObject({ username: "kim" });
      const row = await db().selectFrom("api_tokens").select(["name", "expires_at"]).orderBy("created_at", "desc").executeTakeFirstOrThrow();
      expect(row.name).toBe(name);
      expect(Math.round((row.expires_at.getTime() - Date.now()) / 86_400_000)).toBe(30);
    });

    test("wrong confirmation passwords count in the sign-in throttle: after 10, the 11th answers 429 with Retry-After", async () => {
      await server.addUser("ivy", ["admin"]);
      const stale = await staleSignIn("ivy");
      const peer = "198.51.100.23";
      for (let i = 1; i <= 10; i++) {
        const wrong = await submit(stale, "/admin/users/dan/disable", { _sudo_password: `wrong guess ${i}` }, peer);
        expect({ attempt: i, status: wrong.status }).toEqual({ attempt: i, status: 401 });
      }
      const eleventh = await submit(stale, "/admin/users/dan/disable", { _sudo_password: `wrong guess 11` }, peer);
      expect(eleventh.status).toBe(429);
      expect(Number(eleventh.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await eleventh.text()).toContain("Too many wrong passwords.");
      // Locked out for now, even with the right password; nothing was done.
      const right = await submit(stale, "/admin/users/dan/disable", { _sudo_password: PASSWORD }, peer);
      expect(right.status).toBe(429);
      expect(await isDisabled("dan")).toBe(false);
    });

    test("an API token is never asked for a password", async () => {
      const call = (method: string, path: string, body?: unknown) =>
        server.request(path, { method, token: adminToken, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      expect((await call("POST", "/api/tokens", { name: "by token" })).status).toBe(201);
      expect((await call("PUT", "/api/groups/admin/members/lee")).status).toBe(201);
      expect((await call("DELETE", "/api/groups/admin/members/lee")).status).toBe(204);
      expect((await call("PATCH", "/api/users/lee", { disabled: true })).status).toBe(200);
      expect((await call("PATCH", "/api/users/lee", { disabled: false })).status).toBe(200);
      expect((await call("DELETE", "/api/groups/readers")).status).toBe(204);
      expect((await call("DELETE", "/api/users/lee")).status).toBe(204);
      expect(await userExists("lee")).toBe(false);
    });
  });

  describe(`${backend.name}: sudo mode and the CLI`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await backend.create({ migrated: true });
    });
    afterAll(() => database.drop());

    test("the CLI makes sensitive changes without asking for any password", async () => {
      const cli = (...args: string[]) => runCli([...args, "--database-url", database.url]);
      expect((await cli("add-user", "--username", "root", "--password", "root's long password")).exitCode).toBe(0);
      expect((await cli("add-user", "--username", "dan", "--password", "dan's long password")).exitCode).toBe(0);
      expect((await cli("add-group", "--groupname", "admin")).exitCode).toBe(0);
      for (const [args, said] of [
        [["add-group-member", "--groupname", "admin", "--membername", "root"], "user 'root' added to group 'admin'"],
        [["add-group-member", "--groupname", "admin", "--membername", "dan"], "user 'dan' added to group 'admin'"],
        [["disable-user", "--username", "dan"], "user 'dan' disabled; their sessions have ended"],
        [["remove-user", "--username", "dan"], "user 'dan' removed"],
      ] as const) {
        const result = await cli(...args);
        expect({ args, exitCode: result.exitCode, stderr: result.stderr }).toEqual({ args, exitCode: 0, stderr: "" });
        expect(result.stdout.trim()).toBe(said);
      }
    });
  });
}
