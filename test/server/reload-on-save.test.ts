// dev-server reloads on save: an edited handler module or endpoint.yaml takes over without a restart; a broken one
// leaves the old routes serving and prints the findings as validate does; --no-watch turns it off.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ProjectCopy, copyProject } from "../support/project-copy.ts";
import { type ServerProcess, startServerProcess } from "../support/server-process.ts";

const greeting = (word: string) => `import { defineHandler } from "endpoint";
import { suffix } from "./lib/suffix.ts";
export const hello = defineHandler({ handle: () => ({ greeting: "${word}" + suffix }) });
`;

function setUp(project: ProjectCopy): void {
  writeFileSync(join(project.dir, "routes", "greeting.ts"), greeting("hello"));
  Bun.spawnSync(["mkdir", "-p", join(project.dir, "routes", "lib")]);
  writeFileSync(join(project.dir, "routes", "lib", "suffix.ts"), `export const suffix = "!";\n`);
  appendFileSync(
    join(project.dir, "endpoint.yaml"),
    `
  - name: greeting
    path: /greeting
    handler: greeting.hello
    public: true
`,
  );
}

const get = async (server: ServerProcess, path: string) => {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text() };
};

/** Poll until `path` answers `expected` (a save is picked up within a fraction of a second; allow 10 s on a busy CI). */
async function eventually(server: ServerProcess, path: string, expected: unknown): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await get(server, path);
    if (Bun.deepEquals(last, expected)) return;
    await Bun.sleep(50);
  }
  expect(last).toEqual(expected);
}

describe("dev-server watches endpoint.yaml and routes/", () => {
  let project: ProjectCopy;
  let server: ServerProcess;
  beforeAll(async () => {
    project = copyProject();
    setUp(project);
    server = await startServerProcess(["dev-server", "--port", "0"], { cwd: project.dir, entry: project.cli });
  });
  afterAll(async () => {
    server?.child.kill("SIGTERM");
    await server?.child.exited;
    project?.remove();
  });

  test("an edited handler module answers anew, including a module it imports", async () => {
    expect(await get(server, "/greeting")).toEqual({ status: 200, body: { greeting: "hello!" } });
    writeFileSync(join(project.dir, "routes", "greeting.ts"), greeting("bonjour"));
    await eventually(server, "/greeting", { status: 200, body: { greeting: "bonjour!" } });
    writeFileSync(join(project.dir, "routes", "lib", "suffix.ts"), `export const suffix = "?";\n`);
    await eventually(server, "/greeting", { status: 200, body: { greeting: "bonjour?" } });
  });

  test("a route added to endpoint.yaml is served without a restart", async () => {
    expect((await get(server, "/greeting-again")).status).toBe(404);
    appendFileSync(
      join(project.dir, "endpoint.yaml"),
      `
  - name: greeting_again
    path: /greeting-again
    handler: greeting.hello
    public: true
`,
    );
    await eventually(server, "/greeting-again", { status: 200, body: { greeting: "bonjour?" } });
  });

  test("a broken module keeps the old routes serving and prints the finding with file:line:col", async () => {
    writeFileSync(join(project.dir, "routes", "greeting.ts"), `export const hello = ;\n`);
    const deadline = Date.now() + 10_000;
    while (!server.output().includes("Not reloaded") && Date.now() < deadline) await Bun.sleep(50);
    expect(server.output()).toContain("Not reloaded; still serving the previous routes");
    expect(server.output()).toMatch(/\n\.\/endpoint\.yaml:\d+:\d+: route 'greeting': module 'greeting' failed to load/);
    expect(await get(server, "/greeting")).toEqual({ status: 200, body: { greeting: "bonjour?" } });
    expect((await get(server, "/status")).status).toBe(200);
    // Fixed again: the next save takes over.
    writeFileSync(join(project.dir, "routes", "greeting.ts"), greeting("hallo"));
    await eventually(server, "/greeting", { status: 200, body: { greeting: "hallo?" } });
  });

  test("a broken endpoint.yaml keeps the old routes serving", async () => {
    const file = join(project.dir, "endpoint.yaml");
    const good = readFileSync(file, "utf8");
    writeFileSync(file, good.replace("path: /greeting-again", "path: greeting-again"));
    const deadline = Date.now() + 10_000;
    const finding = /\n\.\/endpoint\.yaml:\d+:\d+: route 'greeting_again': path must start with '\/'/;
    while (!finding.test(server.output()) && Date.now() < deadline) await Bun.sleep(50);
    expect(server.output()).toMatch(finding);
    expect((await get(server, "/greeting-again")).status).toBe(200);
    writeFileSync(file, good);
  });
});

describe("dev-server --no-watch", () => {
  test("a saved change is not picked up until a reload is asked for (SIGHUP)", async () => {
    const project = copyProject();
    setUp(project);
    const server = await startServerProcess(["dev-server", "--port", "0", "--no-watch"], { cwd: project.dir, entry: project.cli });
    try {
      appendFileSync(join(project.dir, "endpoint.yaml"), `\n  - name: later\n    path: /later\n    handler: greeting.hello\n    public: true\n`);
      // Give a watcher, if there were one, ten times the time it needs to act.
      await Bun.sleep(1500);
      expect((await get(server, "/later")).status).toBe(404);
      server.child.kill("SIGHUP");
      await eventually(server, "/later", { status: 200, body: { greeting: "hello!" } });
    } finally {
      server.child.kill("SIGTERM");
      await server.child.exited;
      project.remove();
    }
  });
});
