// "Forgot your password?" against a real SMTP server on loopback (Debian's python3-aiosmtpd, which prints every
// message it receives): the same answer whether or not the account exists, throttled, and the mail carries a
// link that works.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testBackends } from "../support/backends.ts";
import { ROOT } from "../support/cli.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";
import { freePort } from "../support/server-process.ts";

// Debian's interpreter: a python3 earlier on PATH (pyenv) may lack the package.
const PYTHON = ["/usr/bin/python3", "python3"].find((p) => Bun.spawnSync([p, "-c", "import aiosmtpd"], { stderr: "ignore" }).exitCode === 0);

interface SmtpServer {
  output(): string;
  messages(): string[];
  stop(): void;
}

async function startSmtpServer(port: number): Promise<SmtpServer> {
  const child = Bun.spawn([PYTHON!, "-u", "-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${port}`], { stdout: "pipe", stderr: "pipe" });
  let output = "";
  void (async () => {
    const decoder = new TextDecoder();
    const reader = child.stdout.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      output += decoder.decode(value, { stream: true });
    }
  })();
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (up) break;
    await Bun.sleep(100);
  }
  return {
    output: () => output,
    messages: () => output.split("---------- MESSAGE FOLLOWS ----------").slice(1),
    stop: () => child.kill(),
  };
}

const waitFor = async (check: () => boolean, ms = 5000) => {
  for (let waited = 0; waited < ms && !check(); waited += 50) await Bun.sleep(50);
  return check();
};

for (const backend of testBackends()) {
  describe.skipIf(!PYTHON)(`${backend.name}: forgot password, by e-mail`, () => {
    let server: TestEndpoint;
    let smtp: SmtpServer;
    let dir: string;

    /** GET the form as `peer`, then POST `login` with its CSRF cookie and field. */
    const ask = async (login: string, peer = "192.0.2.1") => {
      const form = await server.request("/login/forgot", { headers: { accept: "text/html", "x-test-peer": peer } });
      const cookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      return server.request("/login/forgot", {
        method: "POST",
        cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html", "x-test-peer": peer },
        body: new URLSearchParams({ _csrf: field, login }).toString(),
      });
    };
    const withoutCsrf = (text: string) => text.replace(/name="_csrf" value="[^"]+"/, "");

    beforeAll(async () => {
      const port = freePort();
      smtp = await startSmtpServer(port);
      dir = mkdtempSync(join(tmpdir(), "endpoint-forgot-"));
      const yaml = readFileSync(join(ROOT, "endpoint.yaml"), "utf8").replace(
        /^auth:\n/m,
        `auth:\n  mail:\n    host: 127.0.0.1\n    port: ${port}\n    from: endpoint@example.com\n    tls: "off"\n`,
      );
      writeFileSync(join(dir, "endpoint.yaml"), yaml);
      server = await startTestEndpoint(backend, { configFile: join(dir, "endpoint.yaml"), routesDir: join(ROOT, "routes") });
      expect(server.config.auth.mail?.port).toBe(port);
      await server.addUser("joe");
      await server.database.db.updateTable("users").set({ email: "Joe@Example.com" }).where("username", "=", "joe").execute();
      await server.addUser("ann");
    });
    afterAll(async () => {
      smtp?.stop();
      await server?.close();
      if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    });

    test("the sign-in page links to the form", async () => {
      const login = await (await server.request("/login", { headers: { accept: "text/html" } })).text();
      expect(login).toContain('href="/login/forgot"');
      const form = await server.request("/login/forgot", { headers: { accept: "text/html" } });
      expect(form.status).toBe(200);
      expect(await form.text()).toContain('name="login"');
    });

    test("an existing account, an unknown name and an account without an address get the same answer; only the first gets mail", async () => {
      const known = await ask("joe", "192.0.2.10");
      const unknown = await ask("nobody", "192.0.2.11");
      const noAddress = await ask("ann", "192.0.2.12");
      expect([known.status, unknown.status, noAddress.status]).toEqual([200, 200, 200]);
      const [a, b, c] = await Promise.all([known.text(), unknown.text(), noAddress.text()]);
      expect(a).toContain("If an account matches");
      expect(withoutCsrf(b)).toBe(withoutCsrf(a));
      expect(withoutCsrf(c)).toBe(withoutCsrf(a));

      expect(await waitFor(() => smtp.messages().length >= 1)).toBe(true);
      await Bun.sleep(300);
      const messages = smtp.messages();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain("To: Joe@Example.com");
      expect(messages[0]).toContain("From: endpoint@example.com");
      const link = /(http\S+\/login\/reset\?token=[A-Za-z0-9_-]{43})/.exec(messages[0]!)?.[1];
      expect(link).toBeDefined();
      expect(link!.startsWith(server.config.server.publicUrl)).toBe(true);
      const token = new URL(link!).searchParams.get("token")!;
      expect(server.logLines.join("\n")).not.toContain(token);

      // The link in the mail sets the password.
      const form = await server.request(`/login/reset?token=${token}`, { headers: { accept: "text/html" } });
      expect(form.status).toBe(200);
      const cookie = form.headers.getSetCookie().find((x) => x.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      const done = await server.request("/login/reset", {
        method: "POST",
        cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams({ _csrf: field, token, password: "joe's mailed passphrase", repeat: "joe's mailed passphrase" }).toString(),
      });
      expect(done.status).toBe(200);
      await expect(server.signIn("joe", PASSWORD)).rejects.toThrow();
      await server.signIn("joe", "joe's mailed passphrase");

      const audit = await server.database.db.selectFrom("audit_log").select(["actor", "action", "target", "client_address"]).where("action", "like", "user.reset_link%").orderBy("id").execute();
      expect(audit).toEqual([
        { actor: "forgot-password", action: "user.reset_link.create", target: "joe", client_address: "192.0.2.10" },
        { actor: "joe", action: "user.reset_link.use", target: "joe", client_address: "127.0.0.1" },
      ]);
    });

    test("the e-mail address works in place of the username, in any case", async () => {
      const before = smtp.messages().length;
      const response = await ask("JOE@example.COM", "192.0.2.20");
      expect(response.status).toBe(200);
      expect(await waitFor(() => smtp.messages().length === before + 1)).toBe(true);
      expect(smtp.messages().at(-1)).toContain("/login/reset?token=");
    });

    test("requests are throttled per name typed and per client address, alike for accounts that exist and those that do not", async () => {
      const mailsBefore = smtp.messages().length;
      await server.addUser("max");
      await server.database.db.updateTable("users").set({ email: "max@example.com" }).where("username", "=", "max").execute();
      for (const login of ["max", "ghost"]) {
        for (let i = 0; i < 3; i++) expect((await ask(login, `198.51.100.${i + (login === "max" ? 1 : 10)}`)).status).toBe(200);
        const refused = await ask(login, "198.51.100.50");
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      }
      for (let i = 0; i < 5; i++) expect((await ask(`someone${i}`, "203.0.113.7")).status).toBe(200);
      expect((await ask("someone-else", "203.0.113.7")).status).toBe(429);
      // Only the three requests let through for max sent mail.
      expect(await waitFor(() => smtp.messages().length === mailsBefore + 3)).toBe(true);
    });

    test("a form from another site is refused and sends nothing", async () => {
      const before = smtp.messages().length;
      const forged = await server.request("/login/forgot", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example", accept: "text/html" },
        body: new URLSearchParams({ login: "joe" }).toString(),
      });
      expect(forged.status).toBe(403);
      await Bun.sleep(300);
      expect(smtp.messages().length).toBe(before);
    });
  });
}
