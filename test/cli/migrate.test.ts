// migrate latest|up|down|status|check|make through the real CLI, on every backend.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MIGRATIONS_DIR } from "../../db/migrate.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";

const ALL = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, "")).sort();

for (const backend of testBackends()) {
  describe(`${backend.name}: migrate`, () => {
    let database: FreshDatabase;
    const cli = (...args: string[]) => runCli([...args, "--database-url", database.url]);
    const status = async () => JSON.parse((await cli("migrate", "status", "--json")).stdout) as Array<{ name: string; applied_at: string | null }>;

    beforeAll(async () => {
      database = await backend.create();
      expect((await cli("migrate", "up")).exitCode).toBe(0); // an existing database with the first migration only
    });
    afterAll(() => database.drop());

    test("check exits 1 and names what is pending; commands that need the schema refuse to run", async () => {
      const check = await cli("migrate", "check");
      expect(check.exitCode).toBe(1);
      expect(check.stderr.trim()).toBe(`error: ${ALL.length - 1} pending migrations: ${ALL.slice(1).join(", ")}`);
      const list = await cli("list-users");
      expect(list.stderr.trim()).toMatch(new RegExp(`has ${ALL.length - 1} pending migrations; apply them with: bun run cli migrate latest$`));
      expect(list.exitCode).toBe(1);
    });

    test("latest applies everything, then check passes", async () => {
      const latest = await cli("migrate", "latest");
      expect(latest.exitCode).toBe(0);
      // Then the groups endpoint.yaml declares are created (the database had none).
      expect(latest.stdout.trim().split("\n")).toEqual([
        ...ALL.slice(1).map((n) => `applied ${n}`),
        ...["admin", "users", "services"].map((g) => `created group '${g}' (declared in endpoint.yaml)`),
      ]);
      expect((await cli("migrate", "check")).exitCode).toBe(0);
      expect((await status()).every((m) => m.applied_at !== null)).toBe(true);
    });

    test("down one at a time to zero, then latest again: a full round trip", async () => {
      for (const name of [...ALL].reverse()) {
        const down = await cli("migrate", "down");
        expect(down.stdout.trim()).toBe(`reverted ${name}`);
      }
      expect((await cli("migrate", "down")).stdout.trim()).toBe("no applied migrations");
      expect((await status()).map((m) => m.applied_at)).toEqual(ALL.map(() => null));
      expect((await cli("migrate", "latest")).exitCode).toBe(0);
      expect((await status()).map((m) => m.name)).toEqual(ALL);
      expect((await cli("add-user", "--username", "after-round-trip", "--password", "a long password 1")).exitCode).toBe(0);
    });

    test("status lists applied and pending in a table", async () => {
      const result = await cli("migrate", "status");
      expect(result.stdout.split("\n")[0]).toMatch(/^MIGRATION\s+APPLIED$/);
      expect(result.stdout).toContain(ALL[0]!);
    });
  });
}

describe("migrate make", () => {
  test("scaffolds a timestamped migration with up and down in the migrations folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "endpoint-migrations-"));
    const env = { ENDPOINT_MIGRATIONS_DIR: dir };
    try {
      const made = await runCli(["migrate", "make", "add_user_email"], { env });
      expect(made.exitCode).toBe(0);
      const file = made.stdout.trim().replace(/^created /, "");
      expect(file).toMatch(new RegExp(`^${dir}/\\d{14}_add_user_email\\.ts$`));
      const scaffold = await import(file);
      expect([typeof scaffold.up, typeof scaffold.down]).toEqual(["function", "function"]);
      const bad = await runCli(["migrate", "make", "Add Email"], { env });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr.trim()).toBe("error: migration name must be 1-63 lower-case letters, digits or '_', e.g. add_user_email");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("migrations from two processes at once", () => {
  const postgres = testBackends().find((b) => b.name === "postgres");
  test.skipIf(!postgres)("two init-db started together apply each migration exactly once (advisory lock)", async () => {
    const database = await postgres!.create();
    try {
      const [first, second] = await Promise.all([
        runCli(["init-db", "--database-url", database.url]),
        runCli(["init-db", "--database-url", database.url]),
      ]);
      expect([first.exitCode, second.exitCode]).toEqual([0, 0]);
      const applied = [...first.stdout.matchAll(/^applied (\S+)$/gm), ...second.stdout.matchAll(/^applied (\S+)$/gm)].map((m) => m[1]);
      expect(applied.sort()).toEqual(ALL);
    } finally {
      await database.drop();
    }
  });
});
