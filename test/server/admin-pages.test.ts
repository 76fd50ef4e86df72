// The admin pages over real Requests: who may see them, the forms doing what the CLI does, and stored markup
// shown as text.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: the admin pages`, () => {
    let server: TestEndpoint;
    let admin: { cookie: string; csrfToken: string };
    const submit = (path: string, fields: Record<string, string>, session = admin) =>
      server.request(path, {
        method: "POST",
        cookie: session.cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams({ _csrf: session.csrfToken, ...fields }).toString(),
      });
    const page = async (path: string, session = admin) => server.request(path, { cookie: session.cookie, headers: { accept: "text/html" } });

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      await server.addUser("joe", ["users"]);
      admin = await server.signIn("root");
    });
    afterAll(() => server.close());

    test("every admin page answers an admin, with the protective headers", async () => {
      const home = await page("/admin");
      expect([home.status, home.headers.get("location")]).toEqual([303, "/admin/users"]);
      for (const path of ["/admin/users", "/admin/users/joe", "/admin/groups", "/admin/tokens", "/admin/audit", "/admin/users/joe/delete"]) {
        const response = await page(path);
        expect({ path, status: response.status }).toEqual({ path, status: 200 });
        expect(response.headers.get("cache-control")).toBe("no-store");
        expect(response.headers.get("content-security-policy")).toContain("default-src 'self'");
        expect({ path, adminLink: (await response.text()).includes('<a class="admin-link" href="/admin">Admin</a>') }).toEqual({ path, adminLink: true });
      }
    });

    test("error pages show who is signed in: name, Admin for an admin, Sign out, never Sign in", async () => {
      const signedInHeader = (text: string, username: string) => ({
        name: text.includes(`<a class="who" href="/account">${username}</a>`),
        signOut: text.includes('<form method="post" action="/logout" class="inline">'),
        admin: text.includes('href="/admin"'),
        signIn: text.includes(">Sign in<"),
      });
      const missing = await page("/admin/users/nobody");
      expect(missing.status).toBe(404);
      expect(signedInHeader(await missing.text(), "root")).toEqual({ name: true, signOut: true, admin: true, signIn: false });
      const joe = await server.signIn("joe");
      const refused = await page("/admin/users", joe);
      expect(refused.status).toBe(403);
      expect(signedInHeader(await refused.text(), "joe")).toEqual({ name: true, signOut: true, admin: false, signIn: false });
      const forged = await submit("/admin/groups", { name: "forged" }, { cookie: admin.cookie, csrfToken: "wrong" });
      expect(forged.status).toBe(403);
      expect(signedInHeader(await forged.text(), "root")).toEqual({ name: true, signOut: true, admin: true, signIn: false });
      // Nobody signed in: the 401 page offers to sign in.
      const anonymous = await server.request("/admin/groups", { method: "POST", headers: { accept: "text/html", origin: server.origin } });
      expect(anonymous.status).toBe(401);
      expect(signedInHeader(await anonymous.text(), "root")).toEqual({ name: false, signOut: false, admin: false, signIn: true });
    });

    test("a path nothing serves still knows who is calling: an admin gets their header with Admin, nobody gets Sign in", async () => {
      const mine = await server.request("/no/such/page", { cookie: admin.cookie, headers: { accept: "text/html" } });
      expect(mine.status).toBe(404);
      const text = await mine.text();
      expect(text).toContain('href="/admin"');
      expect(text).not.toContain(">Sign in<");
      const anonymous = await server.request("/no/such/page", { headers: { accept: "text/html" } });
      expect(anonymous.status).toBe(404);
      const anonymousText = await anonymous.text();
      expect(anonymousText).toContain(">Sign in<");
      expect(anonymousText).not.toContain('href="/admin"');
    });

    test("a non-admin gets the 403 page; a browser that is not signed in is sent to sign in", async () => {
      const joe = await server.signIn("joe");
      const refused = await page("/admin/users", joe);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain("Forbidden");
      const anonymous = await server.request("/admin/groups", { headers: { accept: "text/html" } });
      expect(anonymous.status).toBe(302);
      expect(anonymous.headers.get("location")).toBe("/login?next=%2Fadmin%2Fgroups");
    });

    test("create a user, put them in a group, make them a token (shown once), revoke it, delete them", async () => {
      expect((await submit("/admin/users", { username: "newbie", password: "newbie's long password" })).status).toBe(201);
      expect((await submit("/admin/groups", { name: "ops", description: "Operators" })).status).toBe(201);
      expect((await submit("/admin/groups/ops/members", { username: "newbie" })).status).toBe(200);
      expect(await (await page("/admin/groups")).text()).toContain("<span>newbie</span>");
      expect(await (await page("/admin/groups/ops/members/newbie/remove")).text()).toContain("Take &#x27;newbie&#x27; out of group &#x27;ops&#x27;?");
      const made = await submit("/admin/users/newbie/tokens", { name: "ci" });
      const token = /value="(ept_[^"]+)"/.exec(await made.text())![1]!;
      expect((await server.request("/whoami", { token })).status).toBe(200);
      const tokens = await (await page("/admin/tokens")).text();
      expect(tokens).not.toContain("ept_");
      const id = /href="\/admin\/tokens\/([^/"]+)\/revoke"/.exec(tokens)![1]!;
      expect(await (await page(`/admin/tokens/${id}/revoke`)).text()).toContain("Are you sure?");
      expect((await submit("/admin/tokens/revoke", { id })).status).toBe(200);
      expect((await server.request("/whoami", { token })).status).toBe(401);
      expect(await (await page("/admin/users/newbie/delete")).text()).toContain("Are you sure?");
      expect((await submit("/admin/users/newbie/delete", {})).status).toBe(200);
      expect((await page("/admin/users/newbie")).status).toBe(404);
    });

    test("failures are shown on the page with their status: duplicate, bad input, last admin", async () => {
      const duplicate = await submit("/admin/users", { username: "JOE", password: "long enough password" });
      expect(duplicate.status).toBe(409);
      expect(await duplicate.text()).toContain("user &#x27;JOE&#x27; already exists");
      expect((await submit("/admin/users", { username: "kim", password: "short" })).status).toBe(422);
      expect((await submit("/admin/users/root/delete", {})).status).toBe(409);
      expect((await submit("/admin/groups/admin/members/remove", { username: "root" })).status).toBe(409);
      expect((await submit("/admin/users/root/disable", {})).status).toBe(409);
    });

    test("stored markup in names and descriptions is shown as text on every page", async () => {
      await submit("/admin/groups", { name: "xss", description: "</td><script>alert(1)</script>" });
      await submit("/admin/users/joe/tokens", { name: '"><svg onload=alert(1)>' });
      for (const path of ["/admin/groups", "/admin/tokens", "/admin/users/joe", "/admin/audit"]) {
        const text = await (await page(path)).text();
        expect({ path, raw: text.includes("<script>alert(1)") || text.includes("<svg onload") }).toEqual({ path, raw: false });
      }
    });

    test("the forms need the CSRF token", async () => {
      expect((await submit("/admin/groups", { name: "forged" }, { cookie: admin.cookie, csrfToken: "wrong" })).status).toBe(403);
      expect(await (await page("/admin/groups")).text()).not.toContain("forged");
    });

    test("the audit log lists page actions with who did them, newest first", async () => {
      const text = await (await page("/admin/audit")).text();
      expect(text).toContain("<td>root</td>");
      expect(text.indexOf("token.create")).toBeLessThan(text.indexOf("user.create"));
    });

    test("a reset link for a disabled user is refused on the page with 409, and no link is made", async () => {
      await server.addUser("dora");
      expect((await submit("/admin/users/dora/disable", {})).status).toBe(200);
      const refused = await submit("/admin/users/dora/reset-link", {});
      expect(refused.status).toBe(409);
      const text = await refused.text();
      expect(text).toContain("user &#x27;dora&#x27; is disabled; enable them before sending a reset link");
      expect(text).not.toContain("/login/reset?token=");
      const { id } = await server.database.db.selectFrom("users").select("id").where("username", "=", "dora").executeTakeFirstOrThrow();
      expect(await server.database.db.selectFrom("password_resets").select("token_hash").where("user_id", "=", id).execute()).toEqual([]);
    });

    test("two-step sign-in: the user page says whether it is on, and an admin resets it (audited); a stale session confirms its password first", async () => {
      await server.addUser("tess");
      const { id } = await server.database.db.selectFrom("users").select("id").where("username", "=", "tess").executeTakeFirstOrThrow();
      await server.database.db.insertInto("mfa_secrets").values({ user_id: id, secret_encrypted: "x", confirmed_at: new Date() }).execute();
      await server.database.db.insertInto("mfa_recovery_codes").values([{ user_id: id, code_hash: "a" }, { user_id: id, code_hash: "b" }]).execute();
      const before = await (await page("/admin/users/tess")).text();
      expect(before).toContain("On, with 2 unused recovery codes.");
      expect(before).toContain('action="/admin/users/tess/mfa-reset"');

      // A session whose password was typed long ago is asked for it again, and nothing is reset meanwhile.
      const stale = await server.signIn("root");
      const staleHash = new Bun.CryptoHasher("sha256").update(stale.cookie.split("=")[1]!).digest("hex");
      await server.database.db.updateTable("sessions").set({ authenticated_at: new Date(Date.now() - 3 * 3600_000) }).where("id_hash", "=", staleHash).execute();
      server.endpoint.cache.forgetSession(staleHash);
      const asked = await submit("/admin/users/tess/mfa-reset", {}, stale);
      expect(asked.status).toBe(403);
      expect(await asked.text()).toContain("reset two-step sign-in");
      expect((await server.database.db.selectFrom("mfa_secrets").select("user_id").where("user_id", "=", id).execute()).length).toBe(1);

      const reset = await submit("/admin/users/tess/mfa-reset", {});
      expect(reset.status).toBe(200);
      const after = await reset.text();
      expect(after).toContain("Two-step sign-in reset");
      expect(after).toContain("<h2>Two-step sign-in</h2><p>Off.</p>");
      expect(await server.database.db.selectFrom("mfa_recovery_codes").select("id").where("user_id", "=", id).execute()).toEqual([]);
      const audit = await server.database.db.selectFrom("audit_log").select(["actor", "source"]).where("action", "=", "user.mfa_reset").where("target", "=", "tess").execute();
      expect(audit).toEqual([{ actor: "root", source: "web" }]);
    });
  });
}
