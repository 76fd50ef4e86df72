// The example app that ships in endpoint.yaml and routes/, over real Requests.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

for (const backend of testBackends()) {
  describe(`${backend.name}: the example app`, () => {
    let server: TestEndpoint;
    let serviceToken: string;
    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("ci", ["services"]);
      await server.addUser("joe", ["users"]);
      serviceToken = (await server.tokenFor("ci")).token;
    });
    afterAll(() => server.close());

    const postEvent = (body: unknown, token = serviceToken) =>
      server.request("/hooks/events", { method: "POST", token, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

    test("status is public JSON", async () => {
      const response = await server.request("/status");
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok", service: "endpoint" });
    });

    test("whoami tells a token principal and a session principal who they are", async () => {
      const anonymous = await server.request("/whoami");
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
      expect(await (await server.request("/whoami", { token: serviceToken })).json()).toMatchObject({ username: "ci", groups: ["services"], via: "token" });
      const { cookie } = await server.signIn("joe");
      expect(await (await server.request("/whoami", { cookie })).json()).toMatchObject({ username: "joe", groups: ["users"], via: "session" });
    });

    test("a service posts an event with its token; a person by session cannot", async () => {
      const response = await postEvent({ kind: "deploy.finished", payload: { version: "1.2.3" } });
      expect(response.status).toBe(201);
      expect((await response.json()).id).toMatch(/^\d+$/);
      const { cookie, csrfToken } = await server.signIn("joe");
      const bySession = await server.request("/hooks/events", {
        method: "POST",
        cookie,
        headers: { "content-type": "application/json", origin: server.origin, "x-csrf-token": csrfToken },
        body: JSON.stringify({ kind: "x" }),
      });
      expect(bySession.status).toBe(401);
    });

    test("the webhook validates what it records", async () => {
      const response = await postEvent({ kind: "has spaces", extra: 1 });
      expect(response.status).toBe(422);
      const fields = (await response.json()).errors.map((e: { path: string }) => e.path);
      expect(fields).toEqual(expect.arrayContaining(["/body/kind", "/body/extra"]));
    });

    test("the events page lists what services posted, with stored markup shown as text", async () => {
      expect((await postEvent({ kind: "xss", payload: { note: "</td><script>alert(1)</script><img src=x onerror=alert(1)>" } })).status).toBe(201);
      const { cookie } = await server.signIn("joe");
      const page = await server.request("/events", { cookie });
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const html = await page.text();
      expect(html).toContain("deploy.finished");
      expect(html).not.toContain("<script>alert(1)");
      expect(html).not.toContain("<img src=x");
      expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    });

    test("the events page is for signed-in members of users: a token or another group is refused", async () => {
      const withToken = await server.request("/events", { token: serviceToken });
      expect(withToken.status).toBe(401);
      // The service is told its token is the wrong kind of credential here, not asked for "a valid API token".
      expect((await withToken.json()).detail).toBe("this route does not accept API tokens; sign in to use it");
      const { cookie } = await server.signIn("ci");
      expect((await server.request("/events", { cookie })).status).toBe(403);
      const page = await server.request("/events", { cookie, headers: { accept: "text/html" } });
      expect(page.status).toBe(403);
      expect(await page.text()).toContain("Forbidden");
    });

    test("the webhook takes API tokens only: a signed-in session is told so, and nobody is asked to sign in", async () => {
      const { cookie, csrfToken } = await server.signIn("joe");
      const post = (init: { cookie?: string }) =>
        server.request("/hooks/events", { method: "POST", ...init, headers: { origin: server.origin, "x-csrf-token": csrfToken, "content-type": "application/json" }, body: JSON.stringify({ kind: "by-session" }) });
      const withSession = await post({ cookie });
      expect(withSession.status).toBe(401);
      expect(withSession.headers.get("www-authenticate")).toBe('Bearer realm="endpoint"');
      expect((await withSession.json()).detail).toBe("this route accepts API tokens only (Authorization: Bearer), not a signed-in session");
      expect((await (await post({})).json()).detail).toBe("present a valid API token (Authorization: Bearer) to use this route");
      expect(((await server.database.db.selectFrom("events").select("kind").where("kind", "=", "by-session").execute())).length).toBe(0);
    });

    test("the home page greets a signed-in user and offers a sign-out form", async () => {
      const { cookie, csrfToken } = await server.signIn("joe");
      const html = await (await server.request("/", { cookie })).text();
      expect(html).toContain('<a class="who" href="/account">joe</a>');
      expect(html).toContain(`name="_csrf" value="${csrfToken}"`);
    });
  });
}
