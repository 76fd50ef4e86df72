// The account page: groups, routes, password change, own sessions and own tokens, for anyone signed in by session.
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

    /** Sign in through the real form from a browser that calls itself `userAgent`. */
    const signInAs = async (username: string, userAgent: string) => {
      const form = await server.request("/login", { headers: { "user-agent": userAgent } });
      const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      const response = await server.request("/login", {
        method: "POST",
        cookie: csrfCookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, "user-agent": userAgent },
        body: new URLSearchParams({ username, password: PASSWORD, _csrf: field, next: "/" }).toString(),
      });
      expect(response.status).toBe(303);
      const cookie = response.headers.getSetCookie().find((c) => c.startsWith(`${server.config.auth.cookieName}=`))!.split(";")[0]!;
      const page = await (await server.request("/account", { cookie })).text();
      return { cookie, csrfToken: /name="_csrf" value="([^"]+)"/.exec(page)![1]! };
    };
    const hashOf = (session: { cookie: string }) => new Bun.CryptoHasher("sha256").update(session.cookie.split("=")[1]!).digest("hex");
    const handleOf = (session: { cookie: string }) => hashOf(session).slice(0, 16);
    /** Whether `session` is refused within a second (other instances and this one's cache learn by NOTIFY). */
    const refusedSoon = async (session: { cookie: string }) => {
      const deadline = Date.now() + 1000;
      let status = 200;
      while (Date.now() < deadline && status !== 401) status = (await server.request("/whoami", { cookie: session.cookie })).status;
      return status === 401;
    };
    const audited = (action: string, target: string) =>
      server.database.db.selectFrom("audit_log").select(["actor", "source", "detail"]).where("action", "=", action).where("target", "=", target).orderBy("id").execute();

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("joe", ["users"]);
      await server.addUser("kim");
      await server.addUser("root", ["admin"]);
    });
    afterAll(() => server.close());

    test("a page that does not exist knows who is signed in: their name and Sign out, Admin for admins, never Sign in", async () => {
      const joe = await server.signIn("joe");
      const missing = await server.request("/no-such-page", { cookie: joe.cookie, headers: { accept: "text/html" } });
      expect(missing.status).toBe(404);
      const page = await missing.text();
      expect(page).toContain("joe");
      expect(page).toContain("Sign out");
      expect(page).not.toContain(">Sign in<");
      expect(page).not.toContain('href="/admin"');
      const root = await server.signIn("root");
      expect(await (await server.request("/no-such-page", { cookie: root.cookie, headers: { accept: "text/html" } })).text()).toContain('href="/admin"');
      expect(await (await server.request("/no-such-page", { headers: { accept: "text/html" } })).text()).toContain(">Sign in<");
    });

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

    test("lists the user's sessions with address and browser, marks this one, and shows a hostile user agent as text", async () => {
      await server.addUser("sam");
      const laptop = await signInAs("sam", "<script>alert('ua')</script>");
      const phone = await signInAs("sam", "Phone/1.0");
      const other = await signInAs("kim", "Kim's browser");
      const text = await (await server.request("/account", { cookie: laptop.cookie })).text();
      expect(text).toContain("&lt;script&gt;alert(&#x27;ua&#x27;)&lt;/script&gt;");
      expect(text).not.toContain("<script>alert(");
      expect(text).toContain("Phone/1.0");
      expect(text).not.toContain("Kim&#x27;s browser");
      expect(text).toContain("<td>127.0.0.1</td>");
      // One row per session of sam's, each named by its handle; this one marked, and its own End button.
      const handles = [...text.matchAll(/name="session" value="([^"]+)"/g)].map((m) => m[1]);
      expect([...handles].sort()).toEqual([handleOf(laptop), handleOf(phone)].sort());
      expect(handles[0]).toBe(handleOf(laptop)); // this one comes first
      const row = text.slice(text.lastIndexOf("<tr>", text.indexOf(handleOf(laptop))), text.indexOf(handleOf(laptop)));
      expect(row).toContain('<span class="tag">this one</span>');
      expect(row).toContain("&lt;script&gt;");
      expect(text.match(/<span class="tag">this one<\/span>/g)).toHaveLength(1);
      // Neither the session ids (the credentials) nor their whole hashes (the lookup keys) are on the page.
      for (const session of [laptop, phone, other]) {
        expect(text).not.toContain(session.cookie.split("=")[1]!);
        expect(text).not.toContain(hashOf(session));
      }
      expect(text).toContain('action="/logout/everywhere"');
    });

    test("ending another of your sessions ends it, keeps this one, and is audited", async () => {
      await server.addUser("lee");
      const here = await signInAs("lee", "Here/1.0");
      const there = await signInAs("lee", "There/1.0");
      const ended = await submit("/account/sessions/end", here, { session: handleOf(there) });
      expect(ended.status).toBe(200);
      const text = await ended.text();
      expect(text).toContain("Session ended.");
      expect(text).not.toContain("There/1.0");
      expect(await refusedSoon(there)).toBe(true);
      expect((await server.request("/account", { cookie: here.cookie })).status).toBe(200);
      expect(await audited("session.end", "lee")).toEqual([{ actor: "lee", source: "web", detail: { session: handleOf(there) } }]);
    });

    test("ending this session signs out", async () => {
      await server.addUser("max");
      const here = await signInAs("max", "Here/1.0");
      const out = await submit("/account/sessions/end", here, { session: handleOf(here) });
      expect(out.status).toBe(303);
      expect(out.headers.get("location")).toBe("/login");
      expect(out.headers.getSetCookie().find((c) => c.startsWith("endpoint_session="))).toMatch(/^endpoint_session=; Path=\/; Max-Age=0/);
      expect((await server.request("/whoami", { cookie: here.cookie })).status).toBe(401);
    });

    test("another user's session cannot be ended: 404, by handle, whole hash or id, and nothing ends", async () => {
      const victim = await signInAs("joe", "Victim/1.0");
      const kim = await signInAs("kim", "Kim/1.0");
      const before = await server.database.db.selectFrom("sessions").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
      for (const session of [handleOf(victim), hashOf(victim), victim.cookie.split("=")[1]!, "", "%", "0000000000000000"]) {
        const refused = await submit("/account/sessions/end", kim, { session });
        expect({ session, status: refused.status }).toEqual({ session, status: 404 });
      }
      const after = await server.database.db.selectFrom("sessions").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
      expect((await server.request("/whoami", { cookie: victim.cookie })).status).toBe(200);
      expect((await server.request("/whoami", { cookie: kim.cookie })).status).toBe(200);
      expect(await audited("session.end", "joe")).toEqual([]);
    });

    test("sign out everywhere, from the account page's form, ends every session of the user and is audited", async () => {
      await server.addUser("ann");
      const here = await signInAs("ann", "Here/1.0");
      const there = await signInAs("ann", "There/1.0");
      const bystander = await signInAs("kim", "Kim/2.0");
      const page = await (await server.request("/account", { cookie: here.cookie })).text();
      expect(page).toMatch(/<form method="post" action="\/logout\/everywhere" class="inline"><input type="hidden" name="_csrf" value="[^"]+"\/>/);
      const out = await submit("/logout/everywhere", here, {});
      expect(out.status).toBe(303);
      expect(out.headers.getSetCookie().find((c) => c.startsWith("endpoint_session="))).toMatch(/^endpoint_session=; Path=\/; Max-Age=0/);
      expect((await server.request("/whoami", { cookie: here.cookie })).status).toBe(401);
      expect(await refusedSoon(there)).toBe(true);
      expect((await server.request("/whoami", { cookie: bystander.cookie })).status).toBe(200);
      expect(await audited("session.end_all", "ann")).toEqual([{ actor: "ann", source: "web", detail: { sessions_ended: 2 } }]);
    });

    test("ending a session needs the CSRF token", async () => {
      const here = await signInAs("kim", "Kim/3.0");
      const there = await signInAs("kim", "Kim/4.0");
      expect((await submit("/account/sessions/end", { cookie: here.cookie, csrfToken: "forged" }, { session: handleOf(there) })).status).toBe(403);
      expect((await submit("/logout/everywhere", { cookie: here.cookie, csrfToken: "forged" }, {})).status).toBe(403);
      expect((await server.request("/whoami", { cookie: there.cookie })).status).toBe(200);
    });

    test("the header links to the admin pages for the admin group's members only", async () => {
      const admin = await server.signIn("root");
      expect(await (await server.request("/account", { cookie: admin.cookie })).text()).toContain('<a class="admin-link" href="/admin">Admin</a>');
      const joe = await server.signIn("joe");
      expect(await (await server.request("/account", { cookie: joe.cookie })).text()).not.toContain('href="/admin"');
    });
  });
}
