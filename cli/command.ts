// defineCommand with Endpoint's habits: the global options on every command, and unknown options refused
// (citty accepts anything, so a misspelt `--pasword` would otherwise be silently ignored).
import { type ArgsDef, type CommandContext, type CommandDef, defineCommand } from "citty";
import { UsageError } from "./errors.ts";
import { globalArgs } from "./global-args.ts";

type WithGlobals<A extends ArgsDef> = A & typeof globalArgs;

export function command<A extends ArgsDef = {}>(def: {
  name: string;
  /** Top-level commands are described in main.ts, which lists them without loading them. */
  description?: string;
  args?: A;
  run: (context: CommandContext<WithGlobals<A>>) => unknown | Promise<unknown>;
}): CommandDef<WithGlobals<A>> {
  const args = { ...(def.args ?? {}), ...globalArgs } as WithGlobals<A>;
  return defineCommand({
    meta: { name: def.name, description: def.description },
    args,
    async run(context) {
      rejectUnknownOptions(context.rawArgs, args);
      await def.run(context);
    },
  });
}

function rejectUnknownOptions(rawArgs: string[], args: ArgsDef): void {
  const known = new Set<string>();
  for (const [name, arg] of Object.entries(args)) {
    if (arg.type === "positional") continue;
    known.add(name);
    if (arg.type === "boolean") known.add(`no-${name}`);
    for (const alias of [(arg as { alias?: string | string[] }).alias ?? []].flat()) known.add(alias);
  }
  for (const token of rawArgs) {
    if (token === "--") break;
    if (!token.startsWith("-") || token === "-") continue;
    const name = token.replace(/^--?/, "").split("=")[0]!;
    if (known.has(name)) continue;
    const suggestion = [...known].find((k) => editDistance(k, name) <= 2);
    throw new UsageError(`unknown option --${name}${suggestion ? `; did you mean --${suggestion}?` : ""}`);
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
