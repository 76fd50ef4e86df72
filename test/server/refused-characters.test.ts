// Bad input never reaches the database as a 500: a NUL byte (PostgreSQL refuses it in text) in any form field or
// query value is answered 422 — the form re-rendered with the reason on pages, problem+json for the API — signed
// in or not, and nothing is logged as an unexpected error.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: NUL bytes in forms and queries`, () => {
    let server: TestEndpoint;
    let admin: { cookie: string; csrfToken: string };
    const htmlForm = { "content-type": "application/x-www-form-urlencoded", accept: "text/html" };
    const submit = (path: string, body: string) =>
      server.request(path, { method: "POST", cookie: admin.cookie, headers: { ...htmlForm, origin: server.origin }, body: `_csrf=${admin.csrfToken}&${body}` });
    const unexpectedErrors = () => server.logLines.filter((line) => line.includes("unhandled_error"));

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      admin = await server.signIn("root");
    });
    afterAll(() => server.close());

    test("a NUL in the sign-in form's username (anonymous, percent-encoded or raw) re-renders the form with 422", async () => {
      const form = await server.request("/login");
      const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      for (const username of ["ro%00ot", "ro\u0000ot"]) {
        const answer = await server.request("/login", {
          method: "POST",
          cookie: csrfCookie,
          headers: { ...htmlForm, origin: server.origin },
          body: `username=${username}&password=whatever+it+is+here&_csrf=${field}`,
        });
        expect(answer.status).toBe(422);
        const page = await answer.text();
        expect(page).toContain("holds a character that is not allowed");
        expect(page).toContain('name="username"');
      }
      expect(unexpectedErrors()).toEqual([]);
    });

    test("/admin/users?search=%00 shows the users page with the reason, not a 500", async () => {
      const answer = await server.request("/admin/users?search=%00", { cookie: admin.cookie, headers: { accept: "text/html" } });
      expect(answer.status).toBe(422);
      const page = await answer.text();
      expect(page).toContain("must not contain NUL characters");
      expect(page).toContain("<h1>Users</h1>");
      expect(unexpectedErrors()).toEqual([]);
    });

    test("a NUL in an admin form field re-renders that form's page with 422 and creates nothing", async () => {
      for (const [path, body, heading] of [
        ["/admin/users", "username=ev%00il&password=a+long+enough+password", "<h1>Users</h1>"],
        ["/admin/groups", "name=ops&description=bad%00text", "<h1>Groups</h1>"],
        ["/admin/groups/users/members", "username=ro%00ot", "<h1>Groups</h1>"],
      ] as const) {
        const answer = await submit(path, body);
        expect({ path, status: answer.status }).toEqual({ path, status: 422 });
        const page = await answer.text();
        expect(page).toContain(heading);
        expect(page).toContain("must not contain NUL characters");
      }
      expect(await server.database.db.selectFrom("groups").select("name").where("name", "=", "ops").execute()).toEqual([]);
      expect(unexpectedErrors()).toEqual([]);
    });

    test("the API answers a NUL in a query value or a JSON string with 422 problem+json naming the field", async () => {
      const token = (await server.tokenFor("root")).token;
      const query = await server.request("/api/users?search=%00", { token });
      expect(query.status).toBe(422);
      expect((await query.json()).errors).toEqual([{ path: "/query/search", message: "must not contain NUL characters" }]);
      const body = await server.request("/api/groups", { method: "POST", token, headers: { "content-type": "application/json" }, body: '{"name":"a\\u0000b"}' });
      expect(body.status).toBe(422);
      expect(body.headers.get("content-type")).toContain("application/problem+json");
      expect(unexpectedErrors()).toEqual([]);
    });
  });
}
