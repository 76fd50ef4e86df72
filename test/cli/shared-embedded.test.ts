// The embedded database is shared, not locked: while dev-server runs, the CLI (migrations included) and psql use
// the same PGlite database through the socket the server serves it on, and the server sees their changes at once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../support/cli.ts";
import { type ProjectCopy, copyProject } from "../support/project-copy.ts";
import { type ServerProcess, startServerProcess } from "../support/server-process.ts";

let project: ProjectCopy;
let server: ServerProcess;
const cli = (args: string[], stdin?: string) => runCli(args, { cwd: project.dir, entry: project.cli, stdin, env: { ENDPOINT_SECRET: undefined } });

beforeAll(async () => {
  project = copyProject();
  server = await startServerProcess(["dev-server", "--port", "0", "--no-watch"], { cwd: project.dir, entry: project.cli });
});

afterAll(async () => {
  server?.child.kill("SIGTERM");
  await server?.child.exited;
  project?.remove();
});

const whoami = async (token: string) => {
  const response = await fetch(`${server.url}/whoami`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: response.status === 200 ? ((await response.json()) as { username: string; groups: string[] }) : undefined };
};

describe("dev-server shares its embedded database", () => {
  test("the banner tells how psql reaches it, and the lock file names the socket", () => {
    expect(server.output()).toContain("The embedded database is shared");
    const lock = JSON.parse(readFileSync(join(project.dir, "data", "pglite.lock"), "utf8"));
    expect(lock.address.socketPath).toBe(join(project.dir, "data", "pglite.socket", ".s.PGSQL.5432"));
  });

  test("the administration sequence runs beside the server, and the server sees each change at once", async () => {
    const steps: Array<[string[], string?]> = [
      [["init-db"]],
      [["add-user", "--username", "alice", "--password-stdin"], "correct horse battery staple\n"],
      [["add-group", "--groupname", "reporters"]],
      [["add-group-member", "--groupname", "reporters", "--membername", "alice"]],
    ];
    for (const [args, stdin] of steps) {
      const result = await cli(args, stdin);
      expect({ args, exitCode: result.exitCode, stderr: result.stderr }).toEqual({ args, exitCode: 0, stderr: expect.not.stringContaining("in use") });
    }
    const created = await cli(["token", "create", "--username", "alice", "--name", "beside-the-server"]);
    expect(created.exitCode).toBe(0);
    const token = created.stdout.trim().split("\n").at(-1)!;
    expect((await whoami(token)).body).toMatchObject({ username: "alice", groups: ["reporters"] });

    // A change made by the CLI reaches the running server's caches without a restart or the 30 s resync.
    expect((await cli(["remove-group-member", "--groupname", "reporters", "--membername", "alice"])).exitCode).toBe(0);
    expect((await whoami(token)).body?.groups).toEqual([]);
    const listed = await cli(["token", "list"]);
    const id = listed.stdout.split("\n").find((line) => line.includes("beside-the-server"))!.split(/\s+/)[0]!;
    expect((await cli(["token", "revoke", "--id", id])).exitCode).toBe(0);
    expect((await whoami(token)).status).toBe(401);

    const users = await cli(["list-users"]);
    expect(users.stdout).toContain("alice");
  });

  test("psql connects through the socket and sees the same rows", async () => {
    if (!Bun.which("psql")) throw new Error("psql is not installed (Debian: postgresql-client)");
    const socketDir = join(project.dir, "data", "pglite.socket");
    const psql = Bun.spawnSync(["psql", "-h", socketDir, "-U", "postgres", "-At", "-c", "select username from users order by username", "postgres"]);
    expect(psql.stderr.toString()).toBe("");
    expect(psql.stdout.toString().trim()).toBe("alice");
  });

  test("a migration applied by the CLI while the server runs: the server reports it at once", async () => {
    const migration = join(project.dir, "db", "migrations", "20991231000000_shared_test_table.ts");
    writeFileSync(
      migration,
      `import { type Kysely } from "kysely";
export async function up(db: Kysely<any>) { await db.schema.createTable("shared_test").addColumn("id", "integer").execute(); }
export async function down(db: Kysely<any>) { await db.schema.dropTable("shared_test").execute(); }
`,
    );
    const before = (await (await fetch(`${server.url}/readyz`)).json()) as { pending_migrations?: number; pendingMigrations?: number };
    expect(before.pending_migrations ?? before.pendingMigrations).toBe(1);
    const migrated = await cli(["migrate", "latest"]);
    expect({ exitCode: migrated.exitCode, stderr: migrated.stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(migrated.stdout).toContain("20991231000000_shared_test_table");
    const after = await fetch(`${server.url}/readyz`);
    expect(after.status).toBe(200);
    // And the server keeps answering requests that use the database.
    expect((await fetch(`${server.url}/login`)).status).toBe(200);
  });

  test("after the server stops, the CLI opens the folder directly again and the socket is gone", async () => {
    server.child.kill("SIGTERM");
    expect(await server.child.exited).toBe(0);
    expect(existsSync(join(project.dir, "data", "pglite.socket"))).toBe(false);
    expect(existsSync(join(project.dir, "data", "pglite.lock"))).toBe(false);
    const users = await cli(["list-users"]);
    expect(users.exitCode).toBe(0);
    expect(users.stdout).toContain("alice");
  });
});
