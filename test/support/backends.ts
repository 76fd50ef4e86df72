// The databases a suite runs against: embedded PGlite always, PostgreSQL too when TEST_DATABASE_URL (or
// DATABASE_URL) names a server. Each fresh database is made for one suite and dropped afterwards.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { migrateToLatest } from "../../db/migrate.ts";
import { openDatabase } from "../../db/open.ts";

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

export interface TestBackend {
  name: "pglite" | "postgres";
  /** A new empty database; with `migrated`, already at the latest migration. */
  create(options?: { migrated?: boolean }): Promise<FreshDatabase>;
}

export const serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || undefined;

let migratedTemplate: Promise<string> | undefined;
let emptyTemplate: Promise<string> | undefined;

/** PGlite's initdb takes seconds; make each kind of database once and copy its folder for every suite. */
function pgliteTemplate(migrated: boolean): Promise<string> {
  const make = async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "endpoint-template-")), "db");
    const handle = await openDatabase(`pglite:${dir}`, { create: true });
    if (migrated) await migrateToLatest(handle.db);
    await handle.close();
    process.once("exit", () => rmSync(join(dir, ".."), { recursive: true, force: true }));
    return dir;
  };
  if (migrated) return (migratedTemplate ??= make());
  return (emptyTemplate ??= make());
}

const pglite: TestBackend = {
  name: "pglite",
  async create({ migrated = false } = {}) {
    const root = mkdtempSync(join(tmpdir(), "endpoint-test-"));
    const dir = join(root, "db");
    cpSync(await pgliteTemplate(migrated), dir, { recursive: true });
    return { url: `pglite:${dir}`, drop: async () => rmSync(root, { recursive: true, force: true }) };
  },
};

const postgresServer = (baseUrl: string): TestBackend => ({
  name: "postgres",
  async create({ migrated = false } = {}) {
    const name = `endpoint_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
    await admin`create database ${admin(name)}`;
    await admin.end();
    const url = new URL(baseUrl);
    url.pathname = `/${name}`;
    if (migrated) {
      const handle = await openDatabase(url.toString());
      await migrateToLatest(handle.db);
      await handle.close();
    }
    return {
      url: url.toString(),
      async drop() {
        const again = postgres(baseUrl, { max: 1, onnotice: () => {} });
        await again`drop database if exists ${again(name)} with (force)`;
        await again.end();
      },
    };
  },
});

export function testBackends(): TestBackend[] {
  return serverUrl ? [pglite, postgresServer(serverUrl)] : [pglite];
}
