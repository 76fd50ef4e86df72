// Opening the database a command's options point at (refusing to work on a half-migrated one), and who the
// command acts as in the audit log.
import { userInfo } from "node:os";
import { pendingMigrations } from "../db/migrate.ts";
import { type DatabaseHandle, openDatabase } from "../db/open.ts";
import type { Actor } from "../src/accounts/audit.ts";
import { CommandError } from "./errors.ts";
import { type GlobalOptions, resolveDatabaseUrl } from "./options.ts";

/**
 * Open the database for a command. Unless `create`, a command that needs the schema refuses to run while
 * migrations are pending, so it never works against a half-built database.
 */
export async function openForCommand(
  options: GlobalOptions,
  { create = false, needsSchema = true }: { create?: boolean; needsSchema?: boolean } = {},
): Promise<DatabaseHandle> {
  const handle = await openDatabase(await resolveDatabaseUrl(options), { create, statementTimeoutMs: 0 });
  if (needsSchema) {
    let pending: string[];
    try {
      pending = await pendingMigrations(handle.db);
    } catch (error) {
      await handle.close();
      throw error;
    }
    if (pending.length > 0) {
      await handle.close();
      throw new CommandError(
        `database ${handle.displayUrl} has ${pending.length} pending migration${pending.length === 1 ? "" : "s"}; apply ${pending.length === 1 ? "it" : "them"} with: bun run cli migrate latest`,
      );
    }
  }
  return handle;
}

/** Run `work` with the database open, and close it whatever happens. */
export async function withDatabase<T>(
  options: GlobalOptions,
  work: (handle: DatabaseHandle) => Promise<T>,
  openOptions?: { create?: boolean; needsSchema?: boolean },
): Promise<T> {
  const handle = await openForCommand(options, openOptions);
  try {
    return await work(handle);
  } finally {
    await handle.close();
  }
}

/** Changes made from the command line are audited as `cli:<os user>`. */
export function cliActor(): Actor {
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {}
  return { name: `cli:${name}`, source: "cli", recentlyAuthenticated: true };
}
