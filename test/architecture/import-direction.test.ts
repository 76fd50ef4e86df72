// Imports point one way: db ← accounts ← auth ← server/cli. The accounts core never reaches up into credentials
// or the HTTP layer, so every door (CLI, REST API, admin pages) calls the same rules instead of re-implementing
// them. This test reads every import in the tree and fails on one that runs the wrong way.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { Glob } from "bun";
import { ROOT } from "../support/cli.ts";

/** The layer a file belongs to, lowest first; files outside these (config, errors, tests) are not ranked. */
const LAYERS: Array<[layer: string, prefix: string]> = [
  ["db", "db/"],
  ["accounts", "src/accounts/"],
  ["auth", "src/auth/"],
  ["http", "src/server/"],
  ["http", "src/pages/"],
  ["http", "src/handlers/"],
  ["cli", "cli/"],
];
const RANK: Record<string, number> = { db: 0, accounts: 1, auth: 2, http: 3, cli: 3 };
/** Low modules anyone may import; they import none of the layers above (checked below). */
const LOW = ["src/config/", "src/errors.ts", "src/logger.ts"];

const layerOf = (file: string) => LAYERS.find(([, prefix]) => file.startsWith(prefix))?.[0];

/**
 * Relative imports of one source text, as repository paths. `import type` is left out: it brings in no code, so
 * it cannot call (or skip) a rule; what counts is what runs.
 */
export function importsOf(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s(?!type\s)[^;]*?from\s+["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g)) {
    const specifier = match[1] ?? match[2]!;
    found.push(relative(ROOT, resolve(dirname(join(ROOT, file)), specifier)));
  }
  return found;
}

/** Every import that runs against the layering, as "from → to". */
export function wrongWayImports(files: ReadonlyMap<string, string>): string[] {
  const wrong: string[] = [];
  for (const [file, text] of files) {
    const from = layerOf(file);
    const low = LOW.some((prefix) => file.startsWith(prefix));
    for (const target of importsOf(file, text)) {
      // db/ imports nothing of ours at all.
      if (from === "db" && !target.startsWith("db/")) {
        wrong.push(`${file} → ${target}`);
        continue;
      }
      const to = layerOf(target);
      if (!to) continue;
      // A low module (config, errors) may not depend on any layer; a layer may not depend on a higher one,
      // nor the CLI on the HTTP layer's internals other than server start-up (they are siblings).
      if (low || (from && RANK[to]! > RANK[from]!)) wrong.push(`${file} → ${target}`);
    }
  }
  return wrong;
}

function sourceTree(): Map<string, string> {
  const files = new Map<string, string>();
  for (const pattern of ["db/**/*.ts", "src/**/*.ts", "src/**/*.tsx", "cli/**/*.ts"])
    for (const file of new Glob(pattern).scanSync({ cwd: ROOT })) files.set(file, readFileSync(join(ROOT, file), "utf8"));
  return files;
}

describe("import direction", () => {
  test("no import runs the wrong way: db ← accounts ← auth ← server and cli", () => {
    const files = sourceTree();
    expect(files.size).toBeGreaterThan(50);
    expect(wrongWayImports(files)).toEqual([]);
  });

  test("the check catches an accounts module reaching into the HTTP layer, auth or a route handler", () => {
    const planted = new Map([
      ["src/accounts/users.ts", 'import { html } from "../handlers/html.ts";\nimport { decide } from "../auth/guard.ts";'],
      ["db/open.ts", 'import { EndpointError } from "../src/errors.ts";'],
      ["src/auth/guard.ts", 'import { runRoute } from "../server/pipeline.ts";'],
      ["src/config/load.ts", 'import { findUser } from "../accounts/users.ts";'],
      ["src/accounts/groups.ts", 'import type { Principal } from "../auth/principal.ts";\nimport { x } from "./users.ts";'],
    ]);
    expect(wrongWayImports(planted)).toEqual([
      "src/accounts/users.ts → src/handlers/html.ts",
      "src/accounts/users.ts → src/auth/guard.ts",
      "db/open.ts → src/errors.ts",
      "src/auth/guard.ts → src/server/pipeline.ts",
      "src/config/load.ts → src/accounts/users.ts",
    ]);
  });

  test("the CLI, the REST API and the admin pages reach users, groups and tokens only through src/accounts", () => {
    const files = sourceTree();
    // Writing these tables is the accounts core's job (and the throttle's/sessions' in auth): no door writes them.
    const writes = /\.(insertInto|updateTable|deleteFrom)\(\s*["'](users|groups|group_members|api_tokens|audit_log)["']/;
    const doors = [...files].filter(([file, text]) => (file.startsWith("cli/") || file.startsWith("src/server/") || file.startsWith("src/pages/")) && writes.test(text));
    expect(doors.map(([file]) => file)).toEqual([]);
  });
});
