// The account page: groups, routes, password change and own tokens, for anyone signed in by session.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testBackends } from "../support/backends.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: the account page`, () => {
    let server: TestEndpoint;
    const submit = (path: string, session: { cookie: string; csrfToken: string }, fields: Record<string, string>) =>
      server.request(path, {
        method: "POST",
        cookie: session.cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin },
        body: new URLSearchParams({ _csrf: session.csrfToken, ...fields }).toString(),
      });

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("joe", ["users"]);
      await server.addUser("kim");
    });
    afterAll(() => server.close());

    test("shows the user's groups and the routes they may call; needs a session", async () => {
      const session = await server.signIn("joe");
      const page = await server.request("/account", { cookie: session.cookie });
      expect(page.status).toBe(200);
      const text = await page.text();
      expect(text).toContain("<h1>joe</h1>");
      expect(text).toContain("<p>users</p>");
      expect(text).toContain("<code>GET /events</code>");
      expect(text).not.toContain("/hooks/events");
      const anonymous = await server.request("/account", { headers: { accept: "text/html" } });
      expect(anonymous.status).toBe(302);
      expect(anonymous.headers.get("location")).toBe("/login?next=%2Faccount");
      const { token } = await server.tokenFor("joe");
      expect((await server.request("/account", { token })).status).toBe(401);
    });

    test("a token made on the page is shown once and works; revoking it from the page stops it", async () => {
      const session = await server.signIn("kim");
      const made = await submit("/account/tokens", session, { name: "laptop", days: "7" });
      expect(made.status).toBe(200);
      const token = /value="(ept_[^"]+)"/.exec(await made.text())![1]!;
      expect((await server.request("/whoami", { token })).status).toBe(200);
      const again = await (await server.request("/account", { cookie: session.cookie })).text();
      expect(again).toContain("laptop");
      expect(again).not.toContain("ept_");
      const id = /name="id" value="([^"]+)"/.exec(again)![1]!;
      expect((await submit("/account/tokens/revoke", session, { id })).status).toBe(200);
      expect((await server.request("/whoami", { token })).status).toBe(401);
    });

    test("another user's token cannot be revoked from the page", async () => {
      const { id, token } = await server.tokenFor("joe");
      const kim = await server.signIn("kim");
      expect((await submit("/account/tokens/revoke", kim, { id })).status).toBe(404);
      expect((await server.request("/whoami", { token })).status).toBe(200);
    });

    test("a password change needs the current password, keeps this session and ends the others", async () => {
      await server.addUser("pat");
      const here = await server.signIn("pat");
      const elsewhere = await server.signIn("pat");
      const wrong = await submit("/account/password", here, { current: "not my password", password: "a new long password", repeat: "a new long password" });
      expect(wrong.status).toBe(422);
      expect(await wrong.text()).toContain("Your current password is not right.");
      const changed = await submit("/account/password", here, { current: PASSWORD, password: "a new long password", repeat: "a new long password" });
      expect(changed.status).toBe(200);
      expect((await server.request("/account", { cookie: here.cookie })).status).toBe(200);
      const deadline = Date.now() + 1000;
      let status = 200;
      while (Date.now() < deadline && status !== 401) status = (await server.request("/account", { cookie: elsewhere.cookie })).status;
      expect(status).toBe(401);
      await server.signIn("pat", "a new long password");
    });

    test("the forms need the CSRF token", async () => {
      const session = await server.signIn("kim");
      const forged = await submit("/account/tokens", { cookie: session.cookie, csrfToken: "forged" }, { name: "x", days: "7" });
      expect(forged.status).toBe(403);
    });
  });
}
