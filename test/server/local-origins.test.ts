// The daily loop's first sign-in: dev-server prints the address it listens on, and the forms served there (sign-in,
// setup) are accepted at that address and at the other loopback names on the same port; a foreign Origin is still
// refused. The setup link points at the listened address.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli } from "../support/cli.ts";
import { startServerProcess } from "../support/server-process.ts";

const work = mkdtempSync(join(tmpdir(), "endpoint-origins-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const PASSWORD = "a perfectly fine password";

/** GET /login then POST it, the way a browser at `address` would (Host and Origin are that address). */
async function signInAt(base: string, address: string, origin = address): Promise<Response> {
  const host = new URL(address).host;
  const form = await fetch(`${base}/login`, { headers: { host } });
  const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
  const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  return fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { host, origin, cookie: csrfCookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: "ada", password: PASSWORD, _csrf: field, next: "/" }).toString(),
  });
}

describe("forms at the address dev-server prints", () => {
  test("sign-in works at 127.0.0.1 and at localhost on the listened port; a foreign Origin is refused; the setup link uses that port", async () => {
    const database = `pglite:${join(work, "db")}`;
    const server = await startServerProcess(["dev-server", "--config", join(ROOT, "endpoint.yaml"), "--database-url", database, "--port", "0"]);
    let added = false;
    try {
      const port = new URL(server.url).port;
      expect(server.url).toBe(`http://127.0.0.1:${port}`);
      // The one-time setup link is printed with the address actually listened on, not public_url's default port.
      await Bun.sleep(50);
      expect(server.output()).toContain(`http://127.0.0.1:${port}/setup?token=`);
      server.child.kill("SIGTERM");
      await server.child.exited;
      expect((await runCli(["add-user", "--username", "ada", "--password-stdin", "--database-url", database], { stdin: PASSWORD })).exitCode).toBe(0);
      added = true;
    } finally {
      if (!added) server.child.kill("SIGKILL");
    }
    const again = await startServerProcess(["dev-server", "--config", join(ROOT, "endpoint.yaml"), "--database-url", database, "--port", "0"]);
    try {
      const port = new URL(again.url).port;
      for (const address of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]) {
        const answer = await signInAt(again.url, address);
        expect({ address, status: answer.status }).toEqual({ address, status: 303 });
      }
      const foreign = await signInAt(again.url, `http://127.0.0.1:${port}`, "https://evil.example");
      expect(foreign.status).toBe(403);
      // Another port on the same machine is another origin.
      const otherPort = await signInAt(again.url, `http://127.0.0.1:${port}`, `http://127.0.0.1:${Number(port) + 1}`);
      expect(otherPort.status).toBe(403);
    } finally {
      again.child.kill("SIGTERM");
      await again.child.exited;
    }
  });
});

describe("hosts the production server answers for", () => {
  const configFile = join(work, "hosts.yaml");
  const SECRET = "an-allowed-hosts-test-secret-0123456789-abcdefghij";

  test("public_url's host and allowed_hosts are answered; any other Host gets 400 with no page; health probes answer any Host", async () => {
    await Bun.write(
      configFile,
      `server:\n  public_url: http://endpoint.example:8000\n  allowed_hosts: [".corp.example", "alt.example:8443"]\nroutes: []\n`,
    );
    const database = `pglite:${join(work, "hosts-db")}`;
    expect((await runCli(["init-db", "--database-url", database, "--config", configFile])).exitCode).toBe(0);
    expect((await runCli(["add-user", "--username", "ada", "--password-stdin", "--database-url", database, "--config", configFile], { stdin: PASSWORD })).exitCode).toBe(0);
    const server = await startServerProcess(["serve", "--config", configFile, "--database-url", database, "--port", "0"], { env: { ENDPOINT_SECRET: SECRET } });
    try {
      const get = (host: string, path = "/login", accept = "text/html") => fetch(`${server.url}${path}`, { headers: { host, accept } });
      for (const host of ["endpoint.example:8000", "endpoint.example", "www.corp.example", "corp.example", "alt.example:8443"])
        expect({ host, status: (await get(host)).status }).toEqual({ host, status: 200 });

      for (const host of ["evil.example", "endpoint.example.evil.example", "xcorp.example", "alt.example:9999", "127.0.0.1"]) {
        const refused = await get(host);
        expect({ host, status: refused.status, type: refused.headers.get("content-type") }).toEqual({ host, status: 400, type: "application/problem+json; charset=utf-8" });
        const body = await refused.text();
        expect(JSON.parse(body).code).toBe("unknown_host");
        expect(body).not.toContain(host); // nothing built from the forged Host comes back
      }
      // Unknown paths too: the Host is checked before routing decides 404.
      expect((await get("evil.example", "/no-such-page")).status).toBe(400);
      // Load balancers and monitors probe by address.
      expect((await get("127.0.0.1", "/healthz", "application/json")).status).toBe(200);

      // Sign-in at an allowed host works with that host's origin (public_url's scheme); a foreign Origin is refused.
      expect((await signInAt(server.url, "http://www.corp.example")).status).toBe(303);
      expect((await signInAt(server.url, "http://endpoint.example:8000")).status).toBe(303);
      expect((await signInAt(server.url, "http://www.corp.example", "http://endpoint.example:8000")).status).toBe(403);
      expect((await signInAt(server.url, "http://endpoint.example:8000", "https://evil.example")).status).toBe(403);
    } finally {
      server.child.kill("SIGTERM");
      await server.child.exited;
    }
  });
});
