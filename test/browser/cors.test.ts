// CORS in Debian's Chromium: a page served from a second local origin calls a token route of a real dev-server
// with fetch and an Authorization: Bearer header. Where endpoint.yaml's `cors` lists that origin the preflight
// passes and the page reads the answer; from an origin it does not list, the browser blocks the call (TypeError).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { CHROMIUM, hasChromium } from "../support/browser.ts";
import { runCli } from "../support/cli.ts";
import { type ProjectCopy, copyProject } from "../support/project-copy.ts";
import { type ServerProcess, freePort, startServerProcess } from "../support/server-process.ts";

if (!hasChromium) console.log(`cors.test.ts: ${CHROMIUM} is missing (apt-get install chromium); the browser tests need it`);

const SECRET = "cors-browser-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
// The page's script: call `url` with the token, and say what the page could read (or the error the browser gave).
const PAGE = `<!doctype html><meta charset="utf-8"><title>other origin</title>
<script>
  window.callEndpoint = async (url, token) => {
    try {
      const response = await fetch(url, { headers: { Authorization: "Bearer " + token } });
      return { status: response.status, body: await response.json() };
    } catch (error) {
      return { error: error.name };
    }
  };
</script>`;

describe.skipIf(!hasChromium)("CORS in a real browser", () => {
  let project: ProjectCopy;
  let server: ServerProcess;
  let browser: Browser;
  let token: string;
  const pages: ReturnType<typeof Bun.serve>[] = [];
  let listed: string;
  let unlisted: string;

  beforeAll(async () => {
    // Two tiny sites on other ports: two other origins, one of which endpoint.yaml lists.
    for (let i = 0; i < 2; i++)
      pages.push(Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }) }));
    listed = `http://127.0.0.1:${pages[0]!.port}`;
    unlisted = `http://127.0.0.1:${pages[1]!.port}`;

    project = copyProject();
    const configFile = join(project.dir, "endpoint.yaml");
    const shipped = readFileSync(configFile, "utf8");
    const withCors = shipped.replace(
      "    handler: example.whoami\n",
      `    handler: example.whoami\n    cors:\n      origins: [${listed}]\n      headers: [Authorization]\n`,
    );
    expect(withCors).not.toBe(shipped);
    writeFileSync(configFile, withCors);

    const database = `pglite:${join(project.dir, "data", "db")}`;
    const cli = (...args: string[]) => runCli([...args, "--config", configFile, "--database-url", database], { entry: project.cli, cwd: project.dir, env: { ENDPOINT_SECRET: SECRET } });
    expect((await cli("init-db")).exitCode).toBe(0);
    expect((await cli("add-user", "--username", "ada", "--password", "ada's long password")).exitCode).toBe(0);
    const created = await cli("token", "create", "--username", "ada", "--name", "page");
    expect(created.exitCode).toBe(0);
    token = created.stdout.trim();

    const port = freePort();
    server = await startServerProcess(["dev-server", "--config", configFile, "--port", String(port), "--database-url", database], {
      cwd: project.dir,
      entry: project.cli,
      env: { ENDPOINT_SECRET: SECRET, PUBLIC_URL: `http://127.0.0.1:${port}`, PORT: String(port) },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (server) {
      server.child.kill("SIGTERM");
      await server.child.exited;
    }
    for (const page of pages) page.stop(true);
    project?.remove();
  });

  const callFrom = async (origin: string) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${origin}/`);
    return page.evaluate(([url, bearer]) => (window as unknown as { callEndpoint(u: string, t: string): Promise<unknown> }).callEndpoint(url!, bearer!), [`${server.url}/whoami`, token]);
  };

  test("a listed origin's page reads the answer of a token call", async () => {
    expect(await callFrom(listed)).toEqual({ status: 200, body: expect.objectContaining({ username: "ada" }) });
  }, 60_000);

  test("an unlisted origin's page is blocked by the browser: fetch rejects with TypeError", async () => {
    const before = server.output().length;
    expect(await callFrom(unlisted)).toEqual({ error: "TypeError" });
    // The server refused the preflight (403, no CORS headers), so the browser never sent the GET.
    const deadline = Date.now() + 5_000;
    while (!server.output().slice(before).includes('"method":"OPTIONS","path":"/whoami"') && Date.now() < deadline) await Bun.sleep(20);
    await Bun.sleep(200);
    const log = server.output().slice(before);
    const refused = log.search(/"method":"OPTIONS","path":"\/whoami","route":null,"status":403/);
    expect(refused).toBeGreaterThan(-1);
    expect(log.slice(refused)).not.toContain('"method":"GET","path":"/whoami"');
  }, 60_000);
});
