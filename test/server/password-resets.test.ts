// One-time password-reset links end to end: made by the real CLI, used over HTTP on the real /login/reset form,
// on every backend. The link works once, expires, ends the user's sessions and tokens, and is audited.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createResetLink } from "../../src/accounts/password-resets.ts";
import { type FreshDatabase, type TestBackend, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const NEW_PASSWORD = "a brand new passphrase 42";
const tokenOf = (link: string) => new URL(link).searchParams.get("token")!;
const pathOf = (link: string) => new URL(link).pathname + new URL(link).search;

for (const backend of testBackends()) {
  describe(`${backend.name}: password-reset links`, () => {
    let fresh: FreshDatabase;
    let server: TestEndpoint;
    let expiredLink = "";
    let link = "";
    let cliOutput = { stdout: "", stderr: "" };
    let unknownUser = { stdout: "", stderr: "", exitCode: 0 };
    let disabledUser = { stdout: "", stderr: "", exitCode: 0 };
    let disabledLink = "";
    const cli = (args: string[], stdin?: string) => runCli([...args, "--database-url", fresh.url], { stdin });

    /** GET the form (taking its login-CSRF cookie and field), then POST it. */
    const submitReset = async (token: string, password: string, repeat = password, { withCsrf = true } = {}) => {
      const form = await server.request(`/login/reset?token=${token}`, { headers: { accept: "text/html" } });
      const cookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))?.split(";")[0];
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? "";
      return server.request("/login/reset", {
        method: "POST",
        cookie: withCsrf ? cookie : undefined,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams({ _csrf: withCsrf ? field : "", token, password, repeat }).toString(),
      });
    };

    beforeAll(async () => {
      fresh = await backend.create({ migrated: true });
      // The CLI writes while no server holds the database (an embedded one has a single owner).
      const added = await cli(["add-user", "--username", "joe", "--password-stdin"], `${PASSWORD}\n`);
      expect(added.exitCode).toBe(0);
      const expiring = await cli(["reset-link", "--username", "joe", "--expires", "1s"]);
      expect(expiring.exitCode).toBe(0);
      expiredLink = expiring.stdout.trim();
      const made = await cli(["reset-link", "--username", "JOE"]);
      cliOutput = made;
      expect(made.exitCode).toBe(0);
      link = made.stdout.trim();
      unknownUser = await cli(["reset-link", "--username", "nobody"]);
      // A link sent to an account that is then disabled: the CLI ends it, and makes no new one.
      expect((await cli(["add-user", "--username", "dora", "--password-stdin"], `${PASSWORD}\n`)).exitCode).toBe(0);
      disabledLink = (await cli(["reset-link", "--username", "dora"])).stdout.trim();
      expect((await cli(["disable-user", "--username", "dora"])).exitCode).toBe(0);
      disabledUser = await cli(["reset-link", "--username", "dora"]);
      const existing: TestBackend = { name: backend.name, create: async () => fresh };
      server = await startTestEndpoint(existing);
    });
    afterAll(() => server.close());

    test("a disabled account: the CLI refuses a new link, and the one sent before it was disabled is not valid any more", async () => {
      expect(disabledUser.exitCode).toBe(1);
      expect(disabledUser.stdout).toBe("");
      expect(disabledUser.stderr.trim()).toBe("error: user 'dora' is disabled; enable them before sending a reset link");
      const page = await server.request(pathOf(disabledLink), { headers: { accept: "text/html" } });
      expect(page.status).toBe(404);
      expect(await page.text()).toContain("This password-reset link is not valid");
    });

    test("the CLI prints the link once on stdout, at server.public_url, holding 256 random bits", () => {
      expect(cliOutput.stdout.split("\n").filter(Boolean)).toHaveLength(1);
      expect(link.startsWith(`${server.config.server.publicUrl.replace(/\/$/, "")}/login/reset?token=`)).toBe(true);
      expect(tokenOf(link)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(cliOutput.stderr).toContain("shown only this once");
      expect(cliOutput.stderr).not.toContain(tokenOf(link));
      expect(tokenOf(link)).not.toBe(tokenOf(expiredLink));
    });

    test("only the token's SHA-256 hash is stored", async () => {
      const rows = await server.database.db.selectFrom("password_resets").selectAll().execute();
      expect(rows).toHaveLength(2);
      const hash = new Bun.CryptoHasher("sha256").update(tokenOf(link)).digest("hex");
      expect(rows.map((r) => r.token_hash)).toContain(hash);
      expect(JSON.stringify(rows)).not.toContain(tokenOf(link));
      expect(rows.every((r) => r.created_by.startsWith("cli:"))).toBe(true);
    });

    test("bad options are usage errors: an unreadable --expires, no --username", async () => {
      const wrong = await runCli(["reset-link", "--username", "joe", "--expires", "soon", "--database-url", "pglite:/nonexistent"]);
      expect(wrong.exitCode).toBe(2);
      expect(wrong.stderr).toContain("--expires must be a duration");
      const missing = await runCli(["reset-link"]);
      expect(missing.exitCode).toBe(2);
      expect(unknownUser).toEqual({ exitCode: 1, stdout: "", stderr: "error: user 'nobody' does not exist\n" });
    });

    test("the form opens with no Referer leaving the page and nothing cached; the token never reaches the log", async () => {
      const response = await server.request(pathOf(link), { headers: { accept: "text/html" } });
      expect(response.status).toBe(200);
      // Only the origin, never the address with its token; not no-referrer, under which Chromium posts the form
      // with `Origin: null` (test/browser/password-reset.test.ts).
      expect(response.headers.get("referrer-policy")).toBe("strict-origin");
      expect(response.headers.get("cache-control")).toBe("no-store");
      const text = await response.text();
      expect(text).toContain("Set a new password");
      expect(text).toContain("joe");
      expect(server.logLines.join("\n")).not.toContain(tokenOf(link));
      expect(server.logLines.some((line) => line.includes('"path":"/login/reset"'))).toBe(true);
    });

    test("a wrong token and an expired link are refused with a page that says so", async () => {
      const wrong = await server.request(`/login/reset?token=${"A".repeat(43)}`, { headers: { accept: "text/html" } });
      expect(wrong.status).toBe(404);
      expect(await wrong.text()).toContain("not valid");
      const garbage = await server.request("/login/reset?token=%3Cscript%3E", { headers: { accept: "text/html" } });
      expect(garbage.status).toBe(404);
      const none = await server.request("/login/reset", { headers: { accept: "text/html" } });
      expect(none.status).toBe(404);
      await Bun.sleep(1100);
      const expired = await server.request(pathOf(expiredLink), { headers: { accept: "text/html" } });
      expect(expired.status).toBe(410);
      expect(expired.headers.get("referrer-policy")).toBe("no-referrer");
      expect(await expired.text()).toContain("expired");
      const post = await submitReset(tokenOf(expiredLink), NEW_PASSWORD);
      expect(post.status).toBe(410);
    });

    test("a form without its CSRF token, a weak password or differing repeats leave the link unused", async () => {
      const forged = await submitReset(tokenOf(link), NEW_PASSWORD, NEW_PASSWORD, { withCsrf: false });
      expect(forged.status).toBe(403);
      const weak = await submitReset(tokenOf(link), "short");
      expect(weak.status).toBe(422);
      expect(await weak.text()).toContain("at least 12 characters");
      const differ = await submitReset(tokenOf(link), NEW_PASSWORD, `${NEW_PASSWORD}!`);
      expect(differ.status).toBe(422);
      const crossSite = await server.request("/login/reset", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example", accept: "text/html" },
        body: new URLSearchParams({ token: tokenOf(link), password: NEW_PASSWORD, repeat: NEW_PASSWORD }).toString(),
      });
      expect(crossSite.status).toBe(403);
      expect((await server.request(pathOf(link), { headers: { accept: "text/html" } })).status).toBe(200);
    });

    test("the link sets the new password once: old password refused, new accepted, sessions and tokens ended, audited", async () => {
      const before = await server.signIn("joe");
      const { token: apiToken } = await server.tokenFor("joe");
      expect((await server.request("/api/me", { token: apiToken })).status).toBe(200);

      const done = await submitReset(tokenOf(link), NEW_PASSWORD);
      expect(done.status).toBe(200);
      expect(done.headers.get("referrer-policy")).toBe("no-referrer");
      expect(await done.text()).toContain("Password set");

      const sessions = await server.database.db.selectFrom("sessions").select("id_hash").execute();
      expect(sessions).toHaveLength(0);
      // Every instance (this one included) learns of it by NOTIFY and may answer from its cache for an instant.
      const refusedSoon = async (init: { cookie?: string; token?: string }) => {
        let status = 0;
        for (let i = 0; i < 50 && status !== 401; i++) {
          if (i > 0) await Bun.sleep(100);
          status = (await server.request("/api/me", init)).status;
        }
        return status;
      };
      expect(await refusedSoon({ cookie: before.cookie })).toBe(401);
      expect(await refusedSoon({ token: apiToken })).toBe(401);

      await expect(server.signIn("joe", PASSWORD)).rejects.toThrow("401");
      await server.signIn("joe", NEW_PASSWORD);

      const again = await submitReset(tokenOf(link), "yet another passphrase 7");
      expect(again.status).toBe(410);
      expect(await again.text()).toContain("already been used");
      const reopened = await server.request(pathOf(link), { headers: { accept: "text/html" } });
      expect(reopened.status).toBe(410);

      const audit = await server.database.db.selectFrom("audit_log").select(["actor", "source", "action", "target"]).where("action", "like", "user.reset_link%").where("target", "=", "joe").orderBy("id").execute();
      expect(audit.map((a) => [a.action, a.target, a.source])).toEqual([
        ["user.reset_link.create", "joe", "cli"],
        ["user.reset_link.create", "joe", "cli"],
        ["user.reset_link.use", "joe", "web"],
      ]);
      expect(server.logLines.join("\n")).not.toContain(tokenOf(link));
    });

    test("a signed-in visitor's form carries their session's CSRF token, and using it ends that session too", async () => {
      await server.addUser("ann");
      const ann = await server.signIn("ann");
      const { token } = await createResetLink(server.database.db, { name: "cli:test", source: "cli", recentlyAuthenticated: true }, "ann", { publicUrl: server.origin });
      const form = await server.request(`/login/reset?token=${token}`, { cookie: ann.cookie, headers: { accept: "text/html" } });
      expect(form.status).toBe(200);
      expect(await form.text()).toContain(`name="_csrf" value="${ann.csrfToken}"`);
      const post = (csrf: string) =>
        server.request("/login/reset", {
          method: "POST",
          cookie: ann.cookie,
          headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
          body: new URLSearchParams({ _csrf: csrf, token, password: "ann's fresh passphrase", repeat: "ann's fresh passphrase" }).toString(),
        });
      expect((await post("wrong")).status).toBe(403);
      expect((await post(ann.csrfToken)).status).toBe(200);
      const annSessions = await server.database.db.selectFrom("sessions").innerJoin("users", "users.id", "sessions.user_id").select("id_hash").where("users.username", "=", "ann").execute();
      expect(annSessions).toHaveLength(0);
    });
  });
}
