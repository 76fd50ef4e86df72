// db types: write db/schema.ts, Kysely's table types, from what the migrations build.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { defineCommand } from "citty";
import { SCHEMA_FILE, SchemaTypesError, schemaFromMigrations } from "../../db/introspect.ts";
import { command } from "../command.ts";
import { CommandError } from "../errors.ts";

/** A path as a person in the current folder would type it: relative below it, absolute elsewhere. */
function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function generate(): Promise<{ text: string; tables: number }> {
  try {
    return await schemaFromMigrations();
  } catch (error) {
    if (error instanceof SchemaTypesError) throw new CommandError(error.message);
    throw error;
  }
}

/** For migrate check: whether db/schema.ts is what the migrations produce, in one line either way. */
export async function compareSchemaFile(): Promise<{ current: boolean; message: string }> {
  const { text } = await generate();
  const shown = shownPath(SCHEMA_FILE);
  return readIfExists(SCHEMA_FILE) === text
    ? { current: true, message: `${shown} matches the migrations` }
    : { current: false, message: `${shown} differs from what the migrations produce; run: bun run cli db types` };
}

export const dbCommand = defineCommand({
  meta: { name: "db" },
  subCommands: {
    types: command({
      name: "types",
      description: "Write db/schema.ts (Kysely's table types) from a throwaway embedded database migrated to the latest migration",
      args: { out: { type: "string", description: "Where to write (default db/schema.ts)", valueHint: "PATH" } } as const,
      async run({ args }) {
        const file = args.out ? path.resolve(args.out) : SCHEMA_FILE;
        const { text, tables } = await generate();
        const summary = `${tables} table${tables === 1 ? "" : "s"}`;
        if (readIfExists(file) === text) return console.log(`${shownPath(file)} is up to date (${summary})`);
        try {
          writeFileSync(file, text);
        } catch (error) {
          throw new CommandError(`cannot write ${shownPath(file)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
        console.log(`wrote ${shownPath(file)} (${summary})`);
      },
    }),
  },
});
