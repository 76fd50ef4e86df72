// Applying, undoing and listing migrations with Kysely's Migrator. On PostgreSQL the Migrator holds an
// advisory lock for the whole run, so two instances starting at once apply each migration exactly once.
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Kysely } from "kysely";
import { FileMigrationProvider, type MigrationResultSet, Migrator, NO_MIGRATIONS } from "kysely/migration";

/** The folder `migrate make` writes to and the Migrator reads from (ENDPOINT_MIGRATIONS_DIR overrides it). */
export const MIGRATIONS_DIR = process.env.ENDPOINT_MIGRATIONS_DIR || path.join(import.meta.dir, "migrations");

export interface MigrationStatus {
  name: string;
  appliedAt: Date | null;
}

export interface MigrationStep {
  name: string;
  direction: "Up" | "Down";
  status: "Success" | "Error" | "NotExecuted";
}

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly steps: MigrationStep[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "MigrationError";
  }
}

export function createMigrator(db: Kysely<any>, folder = MIGRATIONS_DIR): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: folder }),
    migrationTableName: "endpoint_migrations",
    migrationLockTableName: "endpoint_migrations_lock",
  });
}

async function run(operation: Promise<MigrationResultSet>): Promise<MigrationStep[]> {
  const { error, results = [] } = await operation;
  const steps = results.map(({ migrationName, direction, status }) => ({ name: migrationName, direction, status }));
  if (error) {
    const failed = steps.find((s) => s.status === "Error")?.name;
    throw new MigrationError(failed ? `migration ${failed} failed` : "migrations could not run", steps, { cause: error });
  }
  return steps;
}

export const migrateToLatest = (db: Kysely<any>, folder?: string) => run(createMigrator(db, folder).migrateToLatest());
export const migrateUp = (db: Kysely<any>, folder?: string) => run(createMigrator(db, folder).migrateUp());
export const migrateDown = (db: Kysely<any>, folder?: string) => run(createMigrator(db, folder).migrateDown());
export const migrateToZero = (db: Kysely<any>, folder?: string) => run(createMigrator(db, folder).migrateTo(NO_MIGRATIONS));

/** Every migration known in the folder, with when it was applied (null = pending). */
export async function migrationStatus(db: Kysely<any>, folder?: string): Promise<MigrationStatus[]> {
  const infos = await createMigrator(db, folder).getMigrations();
  return infos.map((m) => ({ name: m.name, appliedAt: m.executedAt ?? null }));
}

export async function pendingMigrations(db: Kysely<any>, folder?: string): Promise<string[]> {
  return (await migrationStatus(db, folder)).filter((m) => !m.appliedAt).map((m) => m.name);
}

/** Scaffold `<UTC timestamp>_<name>.ts` with empty up/down; returns its path. */
export async function makeMigration(name: string, folder = MIGRATIONS_DIR, now = new Date()): Promise<string> {
  const stamp = now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const file = path.join(folder, `${stamp}_${name}.ts`);
  await fs.writeFile(file, MIGRATION_TEMPLATE, { flag: "wx" });
  return file;
}

const MIGRATION_TEMPLATE = `// Describe what this migration changes, and why.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // e.g. await db.schema.alterTable("users").addColumn("email", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  // undo exactly what up() did
}
`;
