// What every command shares: the global options, opening the database the options point at, reading a
// password safely, and turning expected failures into one line on stderr with the right exit code.
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import type { ArgsDef } from "citty";
import { DatabaseError } from "../db/errors.ts";
import { MigrationError, pendingMigrations } from "../db/migrate.ts";
import { type DatabaseHandle, openDatabase } from "../db/open.ts";
import type { Actor } from "../src/accounts/audit.ts";
import { type AccountRules, accountRules } from "../src/accounts/rules.ts";
import { ConfigError, formatFinding, loadConfig } from "../src/config/load.ts";
import type { Config } from "../src/config/schema.ts";
import { SecretError } from "../src/auth/secret.ts";
import { EndpointError } from "../src/errors.ts";
import { StartError } from "../src/server/start.ts";

export const DEFAULT_CONFIG = "./endpoint.yaml";

/** Options every command takes. */
export const globalArgs = {
  config: { type: "string", description: `Path of endpoint.yaml (default ${DEFAULT_CONFIG})`, valueHint: "PATH" },
  "database-url": {
    type: "string",
    description: "postgres://… or pglite:PATH (default: $DATABASE_URL, then the config, then embedded PGlite in data/)",
    valueHint: "URL",
  },
} as const satisfies ArgsDef;

/** The global options as citty parsed them (any command's args will do). */
export type GlobalOptions = { readonly [option: string]: unknown };

const optionText = (options: GlobalOptions, name: string) =>
  typeof options[name] === "string" && options[name] !== "" ? (options[name] as string) : undefined;

/** A mistake in how the command was called: exit 2. */
export class UsageError extends Error {}

/** Exit code 1 with this message, for failures that are not EndpointErrors. */
export class CommandError extends Error {}

/** Load endpoint.yaml when there is one; a missing default file is fine, a missing explicit one is not. */
/** Configs already loaded by this process (a command may need the database URL and the account rules). */
const loadedConfigs = new Map<string, Promise<Config | undefined>>();

export function loadOptionalConfig(options: GlobalOptions, checkHandlers = false): Promise<Config | undefined> {
  const key = `${optionText(options, "config") ?? ""}\u0000${checkHandlers}`;
  let loaded = loadedConfigs.get(key);
  if (!loaded) loadedConfigs.set(key, (loaded = readOptionalConfig(options, checkHandlers)));
  return loaded;
}

async function readOptionalConfig(options: GlobalOptions, checkHandlers: boolean): Promise<Config | undefined> {
  const explicit = optionText(options, "config");
  const file = explicit ?? DEFAULT_CONFIG;
  if (!explicit && !existsSync(file)) return undefined;
  if (!existsSync(file)) throw new CommandError(`cannot read config file '${file}': file not found`);
  const result = await loadConfig(file, { checkHandlers });
  if (!result.ok) throw new ConfigError(result.findings);
  return result.config;
}

/** --database-url, then DATABASE_URL, then the config's database.url, then embedded PGlite. */
export async function resolveDatabaseUrl(options: GlobalOptions): Promise<string | undefined> {
  const given = optionText(options, "database-url");
  if (given) return given;
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  return (await loadOptionalConfig(options))?.database.url || undefined;
}

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

/** The account rules (admin group, declared groups) of the config, or the defaults when there is none. */
export async function rulesFor(options: GlobalOptions): Promise<AccountRules> {
  return accountRules(await loadOptionalConfig(options));
}

/** Changes made from the command line are audited as `cli:<os user>`. */
export function cliActor(): Actor {
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {}
  return { name: `cli:${name}`, source: "cli", recentlyAuthenticated: true };
}

/** The one line a person sees for a failure, and the exit code that goes with it. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UsageError) return { message: error.message, exitCode: 2 };
  if (error instanceof ConfigError)
    return { message: error.findings.map(formatFinding).join("\n"), exitCode: 1 };
  if (error instanceof EndpointError || error instanceof DatabaseError || error instanceof CommandError || error instanceof SecretError || error instanceof StartError)
    return { message: error.message, exitCode: 1 };
  if (error instanceof MigrationError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message.split("\n")[0]}` : "";
    return { message: `${error.message}${cause}`, exitCode: 1 };
  }
  const text = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return { message: `unexpected failure: ${text}`, exitCode: 1 };
}

/** Print rows as aligned columns under a header. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  console.log(line(headers));
  for (const row of rows) console.log(line(row));
}

export const printJson = (value: unknown) => console.log(JSON.stringify(value, null, 2));

/**
 * The password from --password-stdin, --password, or a prompt on a terminal. The flag form is visible to other
 * users in the process list, so it draws a warning.
 */
export async function readPassword(args: { password?: string; "password-stdin"?: boolean }): Promise<string> {
  if (args["password-stdin"] && args.password !== undefined)
    throw new UsageError("give either --password or --password-stdin, not both");
  if (args["password-stdin"]) {
    const text = await new Response(Bun.stdin.stream()).text();
    return text.replace(/\r?\n$/, "");
  }
  if (args.password !== undefined) {
    console.error("warning: a password given with --password can be seen in the process list; prefer --password-stdin");
    return args.password;
  }
  if (!process.stdin.isTTY) throw new UsageError("no password given: use --password-stdin (or --password) when not on a terminal");
  const first = await promptHidden("Password: ");
  const second = await promptHidden("Repeat password: ");
  if (first !== second) throw new CommandError("the two passwords differ; nothing was changed");
  return first;
}

/** What was typed after the end of the last answer (pasted ahead), kept for the next prompt. */
let typedAhead = "";

/** Ask on the terminal without echoing what is typed. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let typed = "";
    const finish = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(typed);
    };
    // Returns true once the answer is complete; the rest of the chunk waits for the next prompt.
    const consume = (chunk: string): boolean => {
      const chars = [...chunk];
      for (let i = 0; i < chars.length; i++) {
        const char = chars[i]!;
        if (char === "\r" || char === "\n") {
          typedAhead = chars.slice(i + 1).join("").replace(/^\n/, "");
          return true;
        }
        if (char === "\u0003") throw new CommandError("cancelled");
        if (char === "\u007f" || char === "\b") typed = [...typed].slice(0, -1).join("");
        else typed += char;
      }
      return false;
    };
    const onData = (chunk: string) => {
      try {
        if (consume(chunk)) finish();
      } catch (error) {
        finish(error as Error);
      }
    };
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    const ahead = typedAhead;
    typedAhead = "";
    try {
      if (ahead && consume(ahead)) {
        stdin.setRawMode(false);
        process.stderr.write("\n");
        return resolve(typed);
      }
    } catch (error) {
      stdin.setRawMode(false);
      return reject(error);
    }
    stdin.on("data", onData);
    stdin.resume();
  });
}
