// The REST API over real Requests: every endpoint, and each 401, 403, 404, 409 and 422 it can give.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: the REST API`, () => {
    let server: TestEndpoint;
    let adminToken: string;
    let joeToken: string;
    const call = (method: string, path: string, options: { token?: string; body?: unknown } = {}) =>
      server.request(path, {
        method,
        token: options.token ?? adminToken,
        headers: options.body === undefined ? {} : { "content-type": "application/json" },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    const problem = async (response: Response) => ({ status: response.status, code: (await response.json()).code });

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      await server.addUser("joe", ["users"]);
      adminToken = (await server.tokenFor("root")).token;
      joeToken = (await server.tokenFor("joe")).token;
    });
    afterAll(() => server.close());

    test("/api/me tells anyone signed in who they are and which routes they may call", async () => {
      const me = await (await call("GET", "/api/me", { token: joeToken })).json();
      expect(me).toMatchObject({ username: "joe", groups: ["users"], via: "token" });
      expect(me.routes.map((r: { name: string }) => r.name).sort()).toEqual(["home", "status", "whoami"]);
      expect((await server.request("/api/me")).status).toBe(401);
    });

    test("users: create, list with search and paging, show, update, delete", async () => {
      const made = await call("POST", "/api/users", { body: { username: "ann", password: "ann's long password" } });
      expect(made.status).toBe(201);
      expect(await made.json()).toMatchObject({ username: "ann", disabled: false, groups: [] });
      const list = await (await call("GET", "/api/users?search=an&per_page=1")).json();
      expect(list).toMatchObject({ total: 1, page: 1, per_page: 1 });
      expect(list.items.map((u: { username: string }) => u.username)).toEqual(["ann"]);
      const shown = await (await call("GET", "/api/users/ANN")).json();
      expect(shown).toMatchObject({ username: "ann", tokens: [] });
      expect(JSON.stringify(shown)).not.toContain("password");
      const disabled = await call("PATCH", "/api/users/ann", { body: { disabled: true } });
      expect(await disabled.json()).toMatchObject({ username: "ann", disabled: true });
      expect((await call("PATCH", "/api/users/ann", { body: { password: "a brand new password" } })).status).toBe(200);
      expect((await call("DELETE", "/api/users/ann")).status).toBe(204);
      expect(await problem(await call("GET", "/api/users/ann"))).toEqual({ status: 404, code: "user_not_found" });
    });

    test("groups and members: create, show, add and remove a member, delete", async () => {
      expect((await call("POST", "/api/groups", { body: { name: "ops", description: "Operators" } })).status).toBe(201);
      expect((await call("PUT", "/api/groups/ops/members/joe")).status).toBe(201);
      expect(await (await call("GET", "/api/groups/ops")).json()).toMatchObject({ name: "ops", description: "Operators", members: ["joe"] });
      const list = await (await call("GET", "/api/groups")).json();
      expect(list.items.map((g: { name: string }) => g.name)).toContain("ops");
      expect((await call("DELETE", "/api/groups/ops/members/joe")).status).toBe(204);
      expect((await call("DELETE", "/api/groups/ops")).status).toBe(204);
      expect((await call("GET", "/api/groups/ops")).status).toBe(404);
    });

    test("tokens: a user creates, lists, shows and revokes their own; the token is shown once", async () => {
      // A token made with a token must end no later than its parent (joe's lives an hour).
      const made = await call("POST", "/api/tokens", { token: joeToken, body: { name: "laptop", expires_in_seconds: 600, routes: ["whoami"] } });
      expect(made.status).toBe(201);
      const body = await made.json();
      expect(body.token).toMatch(/^ept_/);
      expect(body).toMatchObject({ owner: "joe", name: "laptop", routes: ["whoami"] });
      const list = await call("GET", "/api/tokens", { token: joeToken });
      const text = await list.text();
      expect(text).not.toContain("ept_");
      expect(JSON.parse(text).items.every((t: { owner: string }) => t.owner === "joe")).toBe(true);
      expect((await call("GET", `/api/tokens/${body.id}`, { token: joeToken })).status).toBe(200);
      expect((await server.request("/whoami", { token: body.token })).status).toBe(200);
      expect((await call("DELETE", `/api/tokens/${body.id}`, { token: joeToken })).status).toBe(204);
      // Sent again (a proxy's retry), the revocation answers as the first did (test/server/idempotent-replays.test.ts).
      expect((await call("DELETE", `/api/tokens/${body.id}`, { token: joeToken })).status).toBe(204);
    });

    test("another user's token is 404 to a non-admin, and visible to an admin", async () => {
      const rootsToken = await (await call("POST", "/api/tokens", { body: { name: "root's" } })).json();
      expect(await problem(await call("GET", `/api/tokens/${rootsToken.id}`, { token: joeToken }))).toEqual({ status: 404, code: "token_not_found" });
      expect(await problem(await call("DELETE", `/api/tokens/${rootsToken.id}`, { token: joeToken }))).toEqual({ status: 404, code: "token_not_found" });
      expect((await call("GET", `/api/tokens/${rootsToken.id}`)).status).toBe(200);
      const forJoe = await call("POST", "/api/tokens", { body: { name: "issued", username: "joe" } });
      expect((await forJoe.json()).owner).toBe("joe");
      expect(await problem(await call("POST", "/api/tokens", { token: joeToken, body: { name: "x", username: "root" } }))).toEqual({ status: 403, code: "forbidden" });
    });

    const refusals: Array<{ what: string; method: string; path: string; body?: unknown; as?: "joe" | "nobody"; status: number; code: string }> = [
      { what: "no credentials", method: "GET", path: "/api/users", as: "nobody", status: 401, code: "unauthenticated" },
      { what: "not an admin", method: "GET", path: "/api/users", as: "joe", status: 403, code: "forbidden" },
      { what: "not an admin, creating a group", method: "POST", path: "/api/groups", body: { name: "x" }, as: "joe", status: 403, code: "forbidden" },
      { what: "unknown user", method: "PATCH", path: "/api/users/nobody", body: { disabled: true }, status: 404, code: "user_not_found" },
      { what: "unknown group", method: "PUT", path: "/api/groups/nope/members/joe", status: 404, code: "group_not_found" },
      { what: "duplicate user", method: "POST", path: "/api/users", body: { username: "JOE", password: "long enough password" }, status: 409, code: "user_exists" },
      { what: "deleting the last admin", method: "DELETE", path: "/api/users/root", status: 409, code: "last_admin" },
      { what: "the last admin leaving the admin group", method: "DELETE", path: "/api/groups/admin/members/root", status: 409, code: "last_admin" },
      { what: "a short password", method: "POST", path: "/api/users", body: { username: "kim", password: "short" }, status: 422, code: "password_too_short" },
      { what: "a bad username", method: "POST", path: "/api/users", body: { username: "<script>", password: "long enough password" }, status: 422, code: "invalid_username" },
      { what: "mass assignment", method: "POST", path: "/api/users", body: { username: "kim", password: "long enough password", is_admin: true }, status: 422, code: "invalid_input" },
      { what: "an empty update", method: "PATCH", path: "/api/users/joe", body: {}, status: 422, code: "invalid_input" },
      { what: "a token for an unknown route", method: "POST", path: "/api/tokens", body: { name: "x", routes: ["nope"] }, status: 422, code: "unknown_route" },
      { what: "a token lifetime past the maximum", method: "POST", path: "/api/tokens", body: { name: "x", expires_in_seconds: 10 ** 10 }, status: 422, code: "invalid_input" },
      { what: "a bad page number", method: "GET", path: "/api/users?page=0", status: 422, code: "invalid_input" },
      { what: "a reset link for an unknown user", method: "POST", path: "/api/users/nobody/reset-link", status: 404, code: "user_not_found" },
      { what: "a reset link lasting past 7 days", method: "POST", path: "/api/users/joe/reset-link?expires_in=604801", status: 422, code: "invalid_input" },
      { what: "not an admin, making a reset link", method: "POST", path: "/api/users/root/reset-link", as: "joe", status: 403, code: "forbidden" },
      { what: "not an admin, resetting two-step sign-in", method: "DELETE", path: "/api/users/root/mfa", as: "joe", status: 403, code: "forbidden" },
      { what: "resetting an unknown user's two-step sign-in", method: "DELETE", path: "/api/users/nobody/mfa", status: 404, code: "user_not_found" },
    ];
    for (const r of refusals)
      test(`${r.what} → ${r.status} ${r.code}`, async () => {
        const response =
          r.as === "nobody"
            ? await server.request(r.path, { method: r.method })
            : await call(r.method, r.path, { token: r.as === "joe" ? joeToken : adminToken, body: r.body });
        expect(await problem(response)).toEqual({ status: r.status, code: r.code });
      });

    test("every admin-only endpoint refuses a signed-in non-admin with 403, before reading the body", async () => {
      const adminOnly = server.endpoint.table.filter((e) => e.path.startsWith("/api/") && e.rule.groups.includes("admin"));
      expect(adminOnly.length).toBeGreaterThanOrEqual(11);
      for (const entry of adminOnly) {
        const path = entry.path.replace(":username", "joe").replace(":name", "users");
        const response = await call(entry.method, path, { token: joeToken, body: entry.method === "GET" || entry.method === "DELETE" || entry.method === "PUT" ? undefined : {} });
        expect({ route: entry.name, status: response.status }).toEqual({ route: entry.name, status: 403 });
      }
    });

    test("reset links: made over the API as by the CLI (once, audited with the caller), and refused for a disabled user", async () => {
      const made = await call("POST", "/api/users/joe/reset-link?expires_in=600");
      expect(made.status).toBe(201);
      expect(made.headers.get("cache-control")).toBe("no-store");
      const link = (await made.json()) as { username: string; url: string; expires_at: string };
      expect(link.username).toBe("joe");
      expect(link.url).toMatch(new RegExp(`^${server.config.server.publicUrl}/login/reset\\?token=[A-Za-z0-9_-]{43}$`));
      const lifetime = new Date(link.expires_at).getTime() - Date.now();
      expect(lifetime).toBeGreaterThan(590_000);
      expect(lifetime).toBeLessThanOrEqual(601_000);
      const form = await server.request(new URL(link.url).pathname + new URL(link.url).search, { headers: { accept: "text/html" } });
      expect(form.status).toBe(200);
      const audit = await server.database.db.selectFrom("audit_log").select(["actor", "source"]).where("action", "=", "user.reset_link.create").where("target", "=", "joe").executeTakeFirstOrThrow();
      expect(audit).toEqual({ actor: "root", source: "api" });
      expect(server.logLines.join("\n")).not.toContain(new URL(link.url).searchParams.get("token")!);

      await server.addUser("dan");
      expect((await call("PATCH", "/api/users/dan", { body: { disabled: true } })).status).toBe(200);
      expect(await problem(await call("POST", "/api/users/dan/reset-link"))).toEqual({ status: 409, code: "user_disabled" });
    });

    test("two-step sign-in reset over the API: the secret and recovery codes go, audited; again, 204", async () => {
      await server.addUser("tess");
      const { id } = await server.database.db.selectFrom("users").select("id").where("username", "=", "tess").executeTakeFirstOrThrow();
      await server.database.db.insertInto("mfa_secrets").values({ user_id: id, secret_encrypted: "x", confirmed_at: new Date() }).execute();
      await server.database.db.insertInto("mfa_recovery_codes").values({ user_id: id, code_hash: "h" }).execute();
      expect((await call("DELETE", "/api/users/tess/mfa")).status).toBe(204);
      expect(await server.database.db.selectFrom("mfa_secrets").select("user_id").where("user_id", "=", id).execute()).toEqual([]);
      expect(await server.database.db.selectFrom("mfa_recovery_codes").select("id").where("user_id", "=", id).execute()).toEqual([]);
      const audit = await server.database.db.selectFrom("audit_log").select(["actor", "source", "detail"]).where("action", "=", "user.mfa_reset").where("target", "=", "tess").execute();
      expect(audit.map((a) => [a.actor, a.source, (a.detail as { was_enrolled: boolean }).was_enrolled])).toEqual([["root", "api", true]]);
      expect((await call("DELETE", "/api/users/tess/mfa")).status).toBe(204);
    });

    test("the admin group itself cannot be deleted, and removing a non-member is done already (204)", async () => {
      expect(await problem(await call("DELETE", "/api/groups/admin"))).toEqual({ status: 409, code: "admin_group" });
      expect((await call("DELETE", "/api/groups/users/members/root")).status).toBe(204);
      expect(await problem(await call("DELETE", "/api/users/nobody"))).toEqual({ status: 404, code: "user_not_found" });
      expect((await server.request("/api/tokens")).status).toBe(401);
    });

    test("a validation error names the field and never echoes the password", async () => {
      const response = await call("POST", "/api/users", { body: { username: 7, password: "hunter2hunter2" } });
      const body = await response.json();
      expect(body.errors.map((e: { path: string }) => e.path)).toContain("/body/username");
      expect(JSON.stringify(body)).not.toContain("hunter2");
    });

    test("the OpenAPI document shows a signed-in caller the routes they may call, with their security and groups", async () => {
      expect((await server.request("/api/openapi.json")).status).toBe(401);
      const joes = await (await call("GET", "/api/openapi.json", { token: joeToken })).json();
      expect(joes.openapi).toBe("3.0.3");
      expect(Object.keys(joes.paths)).toEqual(expect.arrayContaining(["/whoami", "/status", "/api/me", "/api/tokens"]));
      // The services group's webhook, the session-only events page and the admin group's API are not joe's to call.
      for (const path of ["/hooks/events", "/events", "/api/users"]) expect(joes.paths[path]).toBeUndefined();
      const admins = await (await call("GET", "/api/openapi.json")).json();
      expect(admins.paths["/api/users"].post).toMatchObject({ operationId: "api-users-create", security: [{ sessionCookie: [] }, { bearerToken: [] }], "x-endpoint-access": { groups: ["admin"] } });
      expect(admins.paths["/api/users"].post.requestBody.content["application/json"].schema.required).toEqual(["username", "password"]);
      expect(admins.paths["/status"].get.security).toEqual([]);
      const members = admins.paths["/api/groups/{name}/members/{username}"].put.parameters.filter((p: { in: string }) => p.in === "path");
      expect(members.map((p: { name: string }) => p.name)).toEqual(["name", "username"]);
    });

    test("changes made through the API are audited with who and from where", async () => {
      const rows = await server.database.db.selectFrom("audit_log").selectAll().where("source", "=", "api").execute();
      expect(rows.map((r) => r.action)).toEqual(expect.arrayContaining(["user.create", "group.create", "group.add_member", "token.create", "token.revoke"]));
      expect(rows.every((r) => r.actor === "root" || r.actor === "joe")).toBe(true);
      expect(JSON.stringify(rows)).not.toContain("ept_");
    });
  });
}
