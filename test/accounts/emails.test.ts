// Users' optional e-mail address through the three doors (CLI, REST API, admin pages): unique without regard to
// case, checked, clearable; and the admin user page's reset-link button.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: e-mail addresses from the CLI`, () => {
    let fresh: FreshDatabase;
    const cli = (args: string[], stdin?: string) => runCli([...args, "--database-url", fresh.url], { stdin });
    beforeAll(async () => {
      fresh = await backend.create({ migrated: true });
    });
    afterAll(() => fresh.drop());

    test("add-user --email and set-email keep addresses unique without regard to case", { timeout: 180_000 }, async () => {
      const joe = await cli(["add-user", "--username", "joe", "--email", "Joe@Example.com", "--password-stdin"], `${PASSWORD}\n`);
      expect([joe.exitCode, joe.stderr]).toEqual([0, ""]);
      const clash = await cli(["add-user", "--username", "ann", "--email", "JOE@example.COM", "--password-stdin"], `${PASSWORD}\n`);
      expect(clash.exitCode).toBe(1);
      expect(clash.stderr).toBe("error: another user already has this email address\n");
      const ann = await cli(["add-user", "--username", "ann", "--password-stdin"], `${PASSWORD}\n`);
      expect(ann.exitCode).toBe(0);
      const taken = await cli(["set-email", "--username", "ann", "--email", "joe@EXAMPLE.com"]);
      expect([taken.exitCode, taken.stderr]).toEqual([1, "error: another user already has this email address\n"]);
      const bad = await cli(["set-email", "--username", "ann", "--email", "ann at example"]);
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toContain("email must be an address");
      const injected = await cli(["set-email", "--username", "ann", "--email", "ann@example.com>\r\nRCPT TO:<x@evil.example"]);
      expect(injected.exitCode).toBe(1);
      const set = await cli(["set-email", "--username", "ann", "--email", "ann@example.com"]);
      expect([set.exitCode, set.stdout]).toEqual([0, "email of user 'ann' set\n"]);
      const users = JSON.parse((await cli(["list-users", "--json"])).stdout);
      expect(users.map((u: any) => [u.username, u.email])).toEqual([
        ["ann", "ann@example.com"],
        ["joe", "Joe@Example.com"],
      ]);
      const cleared = await cli(["set-email", "--username", "joe", "--email", ""]);
      expect(cleared.exitCode).toBe(0);
      const reused = await cli(["set-email", "--username", "ann", "--email", "joe@example.com"]);
      expect(reused.exitCode).toBe(0);
      const missing = await cli(["set-email", "--username", "nobody", "--email", "x@example.com"]);
      expect([missing.exitCode, missing.stderr]).toEqual([1, "error: user 'nobody' does not exist\n"]);
    });
  });

  describe(`${backend.name}: e-mail addresses over the API and the admin pages`, () => {
    let server: TestEndpoint;
    let admin: { cookie: string; csrfToken: string };
    let adminToken = "";
    const api = (method: string, path: string, body?: unknown) =>
      server.request(path, { method, token: adminToken, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const submit = (path: string, fields: Record<string, string>) =>
      server.request(path, {
        method: "POST",
        cookie: admin.cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams({ _csrf: admin.csrfToken, ...fields }).toString(),
      });

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      admin = await server.signIn("root");
      adminToken = (await server.tokenFor("root")).token;
    });
    afterAll(() => server.close());

    test("the API creates, shows, changes and clears an address; another user's address in any case is 409", async () => {
      const created = await api("POST", "/api/users", { username: "kim", password: PASSWORD, email: "Kim@Example.org" });
      expect(created.status).toBe(201);
      expect((await created.json()).email).toBe("Kim@Example.org");
      const clash = await api("POST", "/api/users", { username: "lee", password: PASSWORD, email: "kim@example.ORG" });
      expect(clash.status).toBe(409);
      expect((await clash.json()).code).toBe("email_exists");
      expect((await api("GET", "/api/users/lee")).status).toBe(404);
      expect((await api("POST", "/api/users", { username: "lee", password: PASSWORD })).status).toBe(201);
      const patched = await api("PATCH", "/api/users/lee", { email: "KIM@example.org" });
      expect(patched.status).toBe(409);
      const bad = await api("PATCH", "/api/users/lee", { email: "not an address" });
      expect(bad.status).toBe(422);
      const good = await api("PATCH", "/api/users/lee", { email: "lee@example.org" });
      expect(good.status).toBe(200);
      expect((await good.json()).email).toBe("lee@example.org");
      expect((await (await api("GET", "/api/users/lee")).json()).email).toBe("lee@example.org");
      const cleared = await api("PATCH", "/api/users/kim", { email: null });
      expect((await cleared.json()).email).toBeNull();
      const audit = await server.database.db.selectFrom("audit_log").select(["action", "target"]).where("action", "=", "user.set_email").execute();
      expect(audit.map((a) => a.target).sort()).toEqual(["kim", "lee"]);
    });

    test("the admin pages create a user with an address, change it, and refuse a taken one with the reason", async () => {
      const created = await submit("/admin/users", { username: "max", password: PASSWORD, email: "max@example.net" });
      expect(created.status).toBe(201);
      const page = await (await server.request("/admin/users/max", { cookie: admin.cookie, headers: { accept: "text/html" } })).text();
      expect(page).toContain('value="max@example.net"');
      const taken = await submit("/admin/users/max/email", { email: "LEE@example.org" });
      expect(taken.status).toBe(409);
      expect(await taken.text()).toContain("another user already has this email address");
      const markup = await submit("/admin/users/max/email", { email: "<script>@example.net" });
      expect(markup.status).toBe(422);
      const changed = await submit("/admin/users/max/email", { email: "max@example.com" });
      expect(changed.status).toBe(200);
      expect(await changed.text()).toContain('value="max@example.com"');
    });

    test("the admin user page's button makes a reset link, shown once, that sets the user's password", async () => {
      const made = await submit("/admin/users/max/reset-link", {});
      expect(made.status).toBe(200);
      expect(made.headers.get("referrer-policy")).toBe("strict-origin");
      const link = /value="(http[^"]+\/login\/reset\?token=[A-Za-z0-9_-]{43})"/.exec(await made.text())?.[1];
      expect(link).toBeDefined();
      const again = await (await server.request("/admin/users/max", { cookie: admin.cookie, headers: { accept: "text/html" } })).text();
      expect(again).not.toContain(link!);
      const audit = await server.database.db.selectFrom("audit_log").select(["actor", "source"]).where("action", "=", "user.reset_link.create").execute();
      expect(audit).toEqual([{ actor: "root", source: "web" }]);
      const token = new URL(link!).searchParams.get("token")!;
      const form = await server.request(`/login/reset?token=${token}`, { headers: { accept: "text/html" } });
      expect(form.status).toBe(200);
      const cookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      const done = await server.request("/login/reset", {
        method: "POST",
        cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams({ _csrf: field, token, password: "max's new passphrase", repeat: "max's new passphrase" }).toString(),
      });
      expect(done.status).toBe(200);
      await server.signIn("max", "max's new passphrase");
    });
  });
}
