// init-db and migrate: create the database and move its schema.
import { existsSync } from "node:fs";
import { defineCommand } from "citty";
import {
  type MigrationStep,
  makeMigration,
  migrateDown,
  migrateToLatest,
  migrateUp,
  migrationStatus,
} from "../../db/migrate.ts";
import { DEFAULT_PGLITE_PATH } from "../../db/open.ts";
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import { ensureDeclaredGroups } from "../../src/accounts/groups.ts";
import type { AccountRules } from "../../src/accounts/rules.ts";
import { command } from "../command.ts";
import { withDatabase } from "../database.ts";
import { CommandError, UsageError } from "../errors.ts";
import { resolveDatabaseUrl, rulesFor } from "../options.ts";
import { printJson, printTable } from "../output.ts";
import { compareSchemaFile } from "./db.ts";

function report(steps: MigrationStep[], nothing: string): void {
  if (steps.length === 0) return console.log(nothing);
  for (const step of steps) console.log(`${step.direction === "Up" ? "applied" : "reverted"} ${step.name}`);
}

/** After migrating to the latest schema: create the groups the config declares that the database lacks. */
async function createDeclaredGroups(db: Kysely<Database>, rules: AccountRules): Promise<void> {
  for (const name of await ensureDeclaredGroups(db, rules)) console.log(`created group '${name}' (declared in ${rules.configFile})`);
}

export const initDbCommand = command({
  name: "init-db",
  async run({ args }) {
    const rules = await rulesFor(args);
    await withDatabase(
      args,
      async (handle) => {
        const steps = await migrateToLatest(handle.db);
        report(steps, `database ${handle.displayUrl} is up to date`);
        await createDeclaredGroups(handle.db, rules);
        if (steps.length) console.log(`database ${handle.displayUrl} is ready`);
      },
      { create: true, needsSchema: false },
    );
  },
});

const jsonArg = { json: { type: "boolean", description: "Print JSON" } } as const;

export const migrateCommand = defineCommand({
  meta: { name: "migrate" },
  subCommands: {
    latest: command({
      name: "latest",
      description: "Apply all pending migrations, then create the groups endpoint.yaml declares",
      async run({ args }) {
        const rules = await rulesFor(args);
        await withDatabase(
          args,
          async (h) => {
            report(await migrateToLatest(h.db), "no pending migrations");
            await createDeclaredGroups(h.db, rules);
          },
          { needsSchema: false },
        );
      },
    }),
    up: command({
      name: "up",
      description: "Apply the next pending migration",
      async run({ args }) {
        await withDatabase(args, async (h) => report(await migrateUp(h.db), "no pending migrations"), { needsSchema: false });
      },
    }),
    down: command({
      name: "down",
      description: "Revert the last applied migration",
      async run({ args }) {
        await withDatabase(args, async (h) => report(await migrateDown(h.db), "no applied migrations"), { needsSchema: false });
      },
    }),
    status: command({
      name: "status",
      description: "List applied and pending migrations",
      args: jsonArg,
      async run({ args }) {
        await withDatabase(
          args,
          async (h) => {
            const all = await migrationStatus(h.db);
            if (args.json) return printJson(all.map((m) => ({ name: m.name, applied_at: m.appliedAt })));
            printTable(["MIGRATION", "APPLIED"], all.map((m) => [m.name, m.appliedAt ? m.appliedAt.toISOString() : "pending"]));
          },
          { needsSchema: false },
        );
      },
    }),
    check: command({
      name: "check",
      description: "Exit 1 when any migration is pending, or db/schema.ts differs from what the migrations produce (for deploy scripts and CI)",
      async run({ args }) {
        const problems: string[] = [];
        // With no database named anywhere and none in data/ yet (a clean clone in CI), only the schema file is checked.
        if (!(await resolveDatabaseUrl(args)) && !existsSync(DEFAULT_PGLITE_PATH)) {
          console.log(`no database to check for pending migrations (pglite:${DEFAULT_PGLITE_PATH} does not exist)`);
        } else {
          await withDatabase(
            args,
            async (h) => {
              const pending = (await migrationStatus(h.db)).filter((m) => !m.appliedAt);
              if (pending.length === 0) return console.log("no pending migrations");
              problems.push(`${pending.length} pending migration${pending.length === 1 ? "" : "s"}: ${pending.map((m) => m.name).join(", ")}`);
            },
            { needsSchema: false },
          );
        }
        const schema = await compareSchemaFile();
        if (schema.current) console.log(schema.message);
        else problems.push(schema.message);
        const last = problems.pop();
        for (const problem of problems) console.error(`error: ${problem}`);
        if (last) throw new CommandError(last);
      },
    }),
    make: command({
      name: "make",
      description: "Scaffold a new timestamped migration in db/migrations/",
      args: { name: { type: "positional", description: "What the migration does, e.g. add_user_email", required: true } } as const,
      async run({ args }) {
        if (!/^[a-z0-9][a-z0-9_]{0,62}$/.test(args.name))
          throw new UsageError("migration name must be 1-63 lower-case letters, digits or '_', e.g. add_user_email");
        const file = await makeMigration(args.name);
        console.log(`created ${file}`);
      },
    }),
  },
});
