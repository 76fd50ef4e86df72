// The options every command takes, and what they point at: the config file (read once per command), the account
// rules it implies, and the database URL.
import { existsSync } from "node:fs";
import { type AccountRules, accountRules } from "../src/accounts/rules.ts";
import { ConfigError, loadConfig } from "../src/config/load.ts";
import type { Config } from "../src/config/schema.ts";
import { CommandError } from "./errors.ts";

export { DEFAULT_CONFIG, type GlobalOptions } from "./global-args.ts";
import { DEFAULT_CONFIG, type GlobalOptions } from "./global-args.ts";

const optionText = (options: GlobalOptions, name: string) =>
  typeof options[name] === "string" && options[name] !== "" ? (options[name] as string) : undefined;


/** Configs already loaded by this process (a command may need the database URL and the account rules). */
const loadedConfigs = new Map<string, Promise<Config | undefined>>();

/** Load endpoint.yaml when there is one; a missing default file is fine, a missing explicit one is not. */
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

/** The account rules (admin group, declared groups) of the config, or the defaults when there is none. */
export async function rulesFor(options: GlobalOptions): Promise<AccountRules> {
  return accountRules(await loadOptionalConfig(options));
}
