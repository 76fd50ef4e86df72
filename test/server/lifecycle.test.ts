// Signals to a real server process: SIGTERM lets requests in flight finish and exits 0; SIGHUP swaps in a new
// endpoint.yaml only when it validates.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli } from "../support/cli.ts";
import { startServerProcess } from "../support/server-process.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const SECRET = "lifecycle-secret-0123456789-abcdefghijklmnopq";
const work = mkdtempSync(join(tmpdir(), "endpoint-lifecycle-"));
const database = `pglite:${join(work, "db")}`;

beforeAll(async () => {
  expect((await runCli(["init-db", "--database-url", database])).exitCode).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("signals", () => {
  test("SIGTERM: requests in flight complete, new connections are refused, exit code 0", async () => {
    const server = await startServerProcess(["serve", "--config", join(FIXTURES, "lifecycle.yaml"), "--database-url", database, "--port", "0"], { env: { ENDPOINT_SECRET: SECRET } });
    const inFlight = Array.from({ length: 20 }, () => fetch(`${server.url}/slow?ms=1500`).then(async (r) => [r.status, await r.json()] as const));
    await Bun.sleep(400);
    server.child.kill("SIGTERM");
    await Bun.sleep(200);
    const refused = await fetch(`${server.url}/slow?ms=0`).then(
      () => "answered",
      () => "refused",
    );
    const answers = await Promise.all(inFlight);
    expect(answers).toEqual(Array.from({ length: 20 }, () => [200, { done: true }] as const));
    expect(refused).toBe("refused");
    expect(await server.child.exited).toBe(0);
    expect(server.output()).toContain('"event":"server_stopped"');
  });

  test("SIGHUP: a valid config takes over; an invalid one is refused and the old routes keep serving", async () => {
    const config = join(work, "endpoint.yaml");
    copyFileSync(join(FIXTURES, "lifecycle.yaml"), config);
    // The copied config looks for handlers beside itself.
    const routes = join(work, "routes");
    cpSync(join(FIXTURES, "routes"), routes, { recursive: true });
    // Packages (the JSX runtime) come from a node_modules beside the routes, as for any Bun project.
    symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
    for (const file of ["probes.tsx", "example.ts"]) {
      const path = join(routes, file);
      // "endpoint" names this package, which only resolves inside its own folder: point the copies at it.
      writeFileSync(path, readFileSync(path, "utf8").replaceAll("../../../../", `${ROOT}/`).replaceAll('from "endpoint"', `from "${ROOT}/src/endpoint.ts"`));
    }
    const server = await startServerProcess(["serve", "--config", config, "--database-url", database, "--port", "0"], { env: { ENDPOINT_SECRET: SECRET } });
    try {
      expect((await fetch(`${server.url}/slow-too?ms=0`)).status).toBe(404);
      writeFileSync(config, `${readFileSync(config, "utf8")}  - name: slow-too\n    path: /slow-too\n    handler: probes.slow\n    public: true\n`);
      server.child.kill("SIGHUP");
      await waitFor(async () => (await fetch(`${server.url}/slow-too?ms=0`)).status === 200);
      writeFileSync(config, `${readFileSync(config, "utf8")}  - name: broken\n    path: /broken\n    handler: probes.nope\n`);
      server.child.kill("SIGHUP");
      await waitFor(async () => server.output().includes("config_reload_rejected"));
      expect(server.output()).toContain("no-access-rule");
      expect((await fetch(`${server.url}/slow-too?ms=0`)).status).toBe(200);
      const ready = await (await fetch(`${server.url}/readyz`)).json();
      expect(ready.status).toBe("ready");
    } finally {
      server.child.kill("SIGTERM");
      await server.child.exited;
    }
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error("condition not met in time");
}
