// First run: a one-time link creates the first administrator; there are no default accounts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: first-run setup`, () => {
    let server: TestEndpoint;
    let link: string;
    const post = (fields: Record<string, string>) =>
      server.request("/setup", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin },
        body: new URLSearchParams(fields).toString(),
      });
    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      link = server.endpoint.setupLink!;
    });
    afterAll(() => server.close());

    test("a fresh database gets a one-time link; the page needs its token", async () => {
      expect(link).toMatch(/^http:\/\/localhost:8000\/setup\?token=[A-Za-z0-9_-]{43}$/);
      const token = new URL(link).searchParams.get("token")!;
      expect((await server.request("/setup")).status).toBe(404);
      expect((await server.request("/setup?token=wrong")).status).toBe(404);
      const page = await server.request(`/setup?token=${token}`, { headers: { accept: "text/html" } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Create the first administrator");
    });

    test("there are no default accounts", async () => {
      for (const [username, password] of [["admin", "admin"], ["admin", "password"], ["root", "root"]]) {
        const form = await server.request("/login");
        const csrfCookie = form.headers.getSetCookie()[0]!.split(";")[0]!;
        const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
        const response = await server.request("/login", {
          method: "POST",
          cookie: csrfCookie,
          headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, "x-test-peer": "10.1.1.1" },
          body: new URLSearchParams({ username: username!, password: password!, _csrf: field }).toString(),
        });
        expect(response.status).toBe(401);
      }
    });

    test("the setup token is not an API token", async () => {
      const token = new URL(link).searchParams.get("token")!;
      expect((await server.request("/api/me", { token })).status).toBe(401);
    });

    test("it creates an administrator, signs them in, and then stops working", async () => {
      const token = new URL(link).searchParams.get("token")!;
      const mismatch = await post({ token, username: "alice", password: "the first admin pw", repeat: "something else entirely" });
      expect(mismatch.status).toBe(422);
      expect(await mismatch.text()).toContain("The two passwords differ.");
      const done = await post({ token, username: "alice", password: "the first admin pw", repeat: "the first admin pw" });
      expect(done.status).toBe(303);
      const cookie = done.headers.getSetCookie().find((c) => c.startsWith("endpoint_session="))!.split(";")[0]!;
      const me = await (await server.request("/api/me", { cookie })).json();
      expect(me).toMatchObject({ username: "alice", groups: ["admin"], via: "session" });
      expect((await server.request(`/setup?token=${token}`)).status).toBe(404);
      expect((await post({ token, username: "mallory", password: "another long password", repeat: "another long password" })).status).toBe(404);
      const users = await server.database.db.selectFrom("users").select("username").execute();
      expect(users.map((u) => u.username)).toEqual(["alice"]);
    });
  });
}
