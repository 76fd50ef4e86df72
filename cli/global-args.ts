// The options every command takes. Kept apart from what they point at (options.ts loads the config and the
// database), so that defining a command loads nothing heavy.
import type { ArgsDef } from "citty";

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

/**
 * citty reads options after the command only, so `cli --database-url X list-users` would take X for the command.
 * Global options written before the command are moved to the end (before a `--`), where they mean the same.
 */
export function hoistGlobalOptions(argv: string[], commandNames: string[]): string[] {
  const names = new Set(Object.keys(globalArgs));
  const hoisted: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const token = argv[i]!;
    if (commandNames.includes(token) || token === "--" || !token.startsWith("--")) break;
    const [name, inline] = token.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!names.has(name)) {
      rest.push(token);
      continue;
    }
    hoisted.push(token);
    if (inline === undefined && i + 1 < argv.length) hoisted.push(argv[++i]!);
  }
  const remaining = [...rest, ...argv.slice(i)];
  const dashes = remaining.indexOf("--");
  return dashes === -1 ? [...remaining, ...hoisted] : [...remaining.slice(0, dashes), ...hoisted, ...remaining.slice(dashes)];
}
