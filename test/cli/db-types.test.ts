// db types and migrate check through the real CLI: db/schema.ts is exactly what the migrations produce, and a
// migration added without running db types fails migrate check until db types has been run.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { ROOT, runCli } from "../support/cli.ts";
import { copyProject, type ProjectCopy } from "../support/project-copy.ts";

const STALE = "db/schema.ts differs from what the migrations produce; run: bun run cli db types";
// The tables the checked-in db/schema.ts lists (its Database interface), so adding a migration needs no edit here.
const TABLES = /export interface Database \{\n([^}]*)\}/.exec(readFileSync(join(ROOT, "db", "schema.ts"), "utf8"))![1]!.trim().split("\n").length;

describe("db types", () => {
  test("writes exactly the checked-in db/schema.ts, and says so when the file is already current", async () => {
    const dir = mkdtempSync(join(tmpdir(), "endpoint-db-types-"));
    try {
      const out = join(dir, "schema.ts");
      const first = await runCli(["db", "types", "--out", out]);
      expect(first.stderr).toBe("");
      expect(first.exitCode).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`^wrote .*schema\\.ts \\(${TABLES} tables\\)\n$`));
      expect(readFileSync(out, "utf8")).toBe(readFileSync(join(ROOT, "db", "schema.ts"), "utf8"));
      const again = await runCli(["db", "types", "--out", out]);
      expect(again.stdout).toMatch(new RegExp(`schema\\.ts is up to date \\(${TABLES} tables\\)\n$`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

for (const backend of testBackends()) {
  describe(`${backend.name}: migrate check on the repository as it is`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await backend.create({ migrated: true });
    });
    afterAll(() => database.drop());

    test("passes: the database has no pending migration and db/schema.ts matches the migrations", async () => {
      const check = await runCli(["migrate", "check", "--database-url", database.url]);
      expect(check.stderr).toBe("");
      expect(check.stdout).toBe("no pending migrations\ndb/schema.ts matches the migrations\n");
      expect(check.exitCode).toBe(0);
    });
  });
}

/** A table with a type of each kind the generator maps, so the rendering is checked beyond today's tables. */
const DEPLOYS_MIGRATION = `import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql\`create type deploy_state as enum ('started', 'done', 'failed')\`.execute(db);
  await db.schema
    .createTable("deploys")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("service", "text", (c) => c.notNull())
    .addColumn("state", sql\`deploy_state\`, (c) => c.notNull().defaultTo("started"))
    .addColumn("hosts", sql\`text[]\`, (c) => c.notNull())
    .addColumn("attempts", "integer")
    .addColumn("bytes", "bigint", (c) => c.notNull())
    .addColumn("finished_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql\`now()\`))
    .addColumn("meta", "jsonb")
    .addColumn("service_key", "text", (c) => c.generatedAlwaysAs(sql\`lower(service)\`).stored())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("deploys").execute();
  await sql\`drop type deploy_state\`.execute(db);
}
`;

const DEPLOYS_TYPES = `export interface DeployTable {
  id: GeneratedAlways<string>;
  service: string;
  state: Generated<DeployState>;
  hosts: string[];
  attempts: number | null;
  bytes: string;
  finished_at: NullableTimestamp;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  meta: unknown;
  service_key: GeneratedAlways<string | null>;
}
`;

describe("a migration added without running db types", () => {
  // A copy of the project, so the new migration and the rewritten db/schema.ts never touch this checkout.
  let project: ProjectCopy;
  const cli = (...args: string[]) => runCli(args, { entry: project.cli, cwd: project.dir });
  const schema = () => readFileSync(join(project.dir, "db", "schema.ts"), "utf8");

  beforeAll(() => {
    project = copyProject();
    writeFileSync(join(project.dir, "db", "migrations", "29991231000000_deploys.ts"), DEPLOYS_MIGRATION);
  });
  afterAll(() => project.remove());

  test("migrate check fails with one line naming the fix, without a database and without making data/", async () => {
    const before = schema();
    const check = await cli("migrate", "check");
    expect(check.stdout).toBe("no database to check for pending migrations (pglite:data/pglite does not exist)\n");
    expect(check.stderr).toBe(`error: ${STALE}\n`);
    expect(check.exitCode).toBe(1);
    expect(schema()).toBe(before);
    expect(existsSync(join(project.dir, "data"))).toBe(false);
  });

  test("db types renders the new table, its enum and each kind of column", async () => {
    const types = await cli("db", "types");
    expect(types.stderr).toBe("");
    expect(types.stdout).toBe(`wrote db/schema.ts (${TABLES + 1} tables)\n`);
    const text = schema();
    expect(text).toContain(`export type DeployState = "started" | "done" | "failed";\n`);
    expect(text).toContain(DEPLOYS_TYPES);
    expect(text).toContain("  deploys: DeployTable;\n}\n");
    expect(text).toContain(`import type { ColumnType, Generated, GeneratedAlways, Insertable, Selectable, Updateable } from "kysely";`);
    expect(text).toContain("export type NewDeploy = Insertable<DeployTable>;");
  });

  test("then migrate check passes", async () => {
    const check = await cli("migrate", "check");
    expect(check.stderr).toBe("");
    expect(check.stdout).toContain("db/schema.ts matches the migrations\n");
    expect(check.exitCode).toBe(0);
  });

  test("a pending migration and a stale db/schema.ts are both reported", async () => {
    const database = await testBackends()[0]!.create({ migrated: true }); // migrated without the new migration
    try {
      writeFileSync(join(project.dir, "db", "schema.ts"), readFileSync(join(ROOT, "db", "schema.ts"), "utf8"));
      const check = await cli("migrate", "check", "--database-url", database.url);
      expect(check.stderr).toBe(`error: 1 pending migration: 29991231000000_deploys\nerror: ${STALE}\n`);
      expect(check.exitCode).toBe(1);
    } finally {
      await database.drop();
    }
  });
});
