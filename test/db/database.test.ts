// The database factory on every backend: the same queries, notifications and guarantees on PGlite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { DatabaseError } from "../../db/errors.ts";
import { type DatabaseHandle, openDatabase, parseDatabaseUrl, redactUrl } from "../../db/open.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";

describe("database URLs", () => {
  test("no URL means embedded PGlite under data/", () => {
    expect(parseDatabaseUrl(undefined)).toEqual({ kind: "pglite", path: "data/pglite" });
    expect(parseDatabaseUrl("pglite:/srv/endpoint/db")).toEqual({ kind: "pglite", path: "/srv/endpoint/db" });
    expect(parseDatabaseUrl("postgresql://u@h/db")).toEqual({ kind: "postgres", url: "postgresql://u@h/db" });
  });

  test("passwords never appear in a URL shown to a person", () => {
    expect(redactUrl("postgres://app:hunter2@db.example:5432/endpoint")).toBe("postgres://app:***@db.example:5432/endpoint");
    expect(redactUrl("postgres://app@db/endpoint")).toBe("postgres://app@db/endpoint");
    expect(() => parseDatabaseUrl("mysql://root:hunter2@x/y")).toThrow(/must start with postgres/);
    expect(() => parseDatabaseUrl("mysql://root:hunter2@x/y")).not.toThrow(/hunter2/);
  });
});

describe("the embedded database lock", () => {
  test("a second process cannot open a PGlite folder that is in use, and a stale lock is taken over", async () => {
    const root = mkdtempSync(join(tmpdir(), "endpoint-lock-"));
    const dir = join(root, "db");
    try {
      // A live process (this test runner's parent shell is as good as any) owns the lock.
      writeFileSync(`${dir}.lock`, String(process.ppid));
      const refused = await openDatabase(`pglite:${dir}`, { create: true }).catch((e) => e);
      expect(refused).toBeInstanceOf(DatabaseError);
      expect(refused.message).toBe(
        `embedded database pglite:${dir} is in use by another process (pid ${process.ppid}); stop it first, or run the server with dev-server, which shares the database with the CLI`,
      );
      writeFileSync(`${dir}.lock`, "999999999"); // no such process
      const handle = await openDatabase(`pglite:${dir}`, { create: true });
      await handle.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

for (const backend of testBackends()) {
  describe(`${backend.name}: the database handle`, () => {
    let database: FreshDatabase;
    let handle: DatabaseHandle;
    beforeAll(async () => {
      database = await backend.create({ migrated: true });
      handle = await openDatabase(database.url);
    });
    afterAll(async () => {
      await handle.close();
      await database.drop();
    });

    test("usernames are unique without regard to case", async () => {
      await handle.db.insertInto("users").values({ username: "Joe", password_hash: "x" }).execute();
      const again = await handle.db.insertInto("users").values({ username: "joe", password_hash: "x" }).execute().catch((e) => e);
      expect(again.code).toBe("23505");
    });

    test("a change to a cached row is announced on endpoint_auth", async () => {
      const heard: string[] = [];
      const unlisten = await handle.listen("endpoint_auth", (payload) => heard.push(payload));
      const user = await handle.db.selectFrom("users").select("id").where("username", "=", "Joe").executeTakeFirstOrThrow();
      await handle.db.updateTable("users").set({ disabled: true }).where("id", "=", user.id).execute();
      const deadline = Date.now() + 2000;
      while (!heard.length && Date.now() < deadline) await Bun.sleep(10);
      await unlisten();
      expect(heard).toContain(`users:${user.id}`);
    });

    // PGlite is one connection; Kysely must make callers take turns rather than share an open transaction.
    test("a query from elsewhere never lands inside another caller's transaction", async () => {
      let releaseTransaction!: () => void;
      const held = new Promise<void>((r) => (releaseTransaction = r));
      const transaction = handle.db.transaction().execute(async (trx) => {
        await trx.insertInto("groups").values({ name: "rolled-back" }).execute();
        await held;
        throw new Error("roll back");
      });
      await Bun.sleep(20);
      const outside = handle.db.insertInto("groups").values({ name: "kept" }).execute();
      releaseTransaction();
      await expect(transaction).rejects.toThrow("roll back");
      await outside;
      const names = (await handle.db.selectFrom("groups").select("name").execute()).map((g) => g.name);
      expect(names).toEqual(["kept"]);
    });

    test("int8 values come back as strings on both backends", async () => {
      const row = await sql<{ n: unknown }>`select 9007199254740993::int8 as n`.execute(handle.db);
      expect(row.rows[0]!.n).toBe("9007199254740993");
    });
  });
}
