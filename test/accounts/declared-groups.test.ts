// Groups endpoint.yaml declares exist in the database: init-db, migrate latest and server start create them (audit
// actor `config`); they cannot be deleted while declared; the admin groups page marks them; `validate --database`
// lists any group a route names that the database lacks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openDatabase } from "../../db/open.ts";
import { testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: declared groups on the command line`, () => {
    test("on a fresh install, init-db creates the declared groups, so add-group-member --groupname services works", async () => {
      const fresh = await backend.create();
      try {
        const cli = (...args: string[]) => runCli([...args, "--database-url", fresh.url]);
        const init = await cli("init-db");
        expect(init.exitCode).toBe(0);
        expect(init.stdout).toContain("created group 'services' (declared in endpoint.yaml)");
        expect((await cli("add-user", "--username", "ci", "--password", "a long password 123")).exitCode).toBe(0);
        const added = await cli("add-group-member", "--groupname", "services", "--membername", "ci");
        expect([added.exitCode, added.stderr]).toEqual([0, ""]);
        const refused = await cli("remove-group", "--groupname", "services");
        expect([refused.exitCode, refused.stderr.trim()]).toEqual([
          1,
          "error: group 'services' is declared in endpoint.yaml; remove it (and the routes that name it) from there first",
        ]);
        const admin = await cli("remove-group", "--groupname", "admin");
        expect([admin.exitCode, admin.stderr.trim()]).toEqual([1, "error: group 'admin' administers Endpoint and cannot be deleted"]);
        // Running it again creates nothing twice.
        expect((await cli("init-db")).stdout).not.toContain("created group");
        const handle = await openDatabase(fresh.url);
        const audit = await handle.db.selectFrom("audit_log").select(["actor", "source", "action", "target"]).where("action", "=", "group.create").orderBy("target").execute();
        const groups = await handle.db.selectFrom("groups").select(["name", "description"]).orderBy("name").execute();
        await handle.close();
        expect(audit).toEqual(["admin", "services", "users"].map((target) => ({ actor: "config", source: "config", action: "group.create", target })));
        expect(groups).toEqual([
          { name: "admin", description: "Administrators of this Endpoint" },
          { name: "services", description: "Remote services that post events" },
          { name: "users", description: "People who read the recorded events" },
        ]);
      } finally {
        await fresh.drop();
      }
    });

    test("validate --database names, with file:line:col, each route group the database lacks; migrate latest fixes it", async () => {
      const fresh = await backend.create({ migrated: true }); // migrated by the library, so no declared group yet
      try {
        const cli = (...args: string[]) => runCli([...args, "--database-url", fresh.url]);
        const plain = await cli("validate");
        expect(plain.exitCode).toBe(0);
        const missing = await cli("validate", "--database");
        expect(missing.exitCode).toBe(1);
        expect(missing.stderr.trim().split("\n")).toEqual([
          expect.stringMatching(/^endpoint\.yaml:\d+:\d+: route 'webhook' names group 'services', which the database does not have; create it with: bun run cli migrate latest \[group-not-in-database\]$/),
          expect.stringMatching(/^endpoint\.yaml:\d+:\d+: route 'events' names group 'users', which the database does not have; .* \[group-not-in-database\]$/),
        ]);
        expect((await cli("migrate", "latest")).exitCode).toBe(0);
        const ok = await cli("validate", "--database");
        expect([ok.exitCode, ok.stdout.trim()]).toEqual([0, "endpoint.yaml: OK — 5 routes, 3 groups, all in the database"]);
      } finally {
        await fresh.drop();
      }
    });
  });

  describe(`${backend.name}: declared groups in the server`, () => {
    let server: TestEndpoint;
    beforeAll(async () => {
      server = await startTestEndpoint(backend);
    });
    afterAll(() => server.close());

    test("server start creates the declared groups; the groups page marks them and offers no delete; the API refuses it", async () => {
      const groups = await server.database.db.selectFrom("groups").select("name").orderBy("name").execute();
      expect(groups.map((g) => g.name)).toEqual(["admin", "services", "users"]);
      await server.addUser("root", ["admin"]);
      const session = await server.signIn("root");
      await server.request("/api/groups", {
        method: "POST",
        cookie: session.cookie,
        headers: { "content-type": "application/json", origin: server.origin, "x-csrf-token": session.csrfToken },
        body: JSON.stringify({ name: "ops" }),
      });
      const page = await (await server.request("/admin/groups", { cookie: session.cookie, headers: { accept: "text/html" } })).text();
      expect(page.match(/class="tag"/g)).toHaveLength(3);
      expect(page).toContain('href="/admin/groups/ops/delete"');
      expect(page).not.toContain('href="/admin/groups/services/delete"');
      const token = (await server.tokenFor("root")).token;
      const refused = await server.request("/api/groups/services", { method: "DELETE", token });
      expect(refused.status).toBe(409);
      expect((await refused.json()).code).toBe("declared_group");
      expect((await server.request("/api/groups/ops", { method: "DELETE", token })).status).toBe(204);
      expect((await (await server.request("/api/groups/users", { token })).json()).declared).toBe(true);
    });
  });
}
