// A copy of this project in a temporary folder, for tests that edit handlers, endpoint.yaml or migrations while a
// real server runs: the code is copied (so the copy's own db/migrations and routes/ are used), node_modules is linked.
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./cli.ts";

const COPIED = ["package.json", "bunfig.toml", "tsconfig.json", "endpoint.yaml", "cli", "src", "db", "routes"];

export interface ProjectCopy {
  dir: string;
  /** The copy's CLI entry point. */
  cli: string;
  remove(): void;
}

export function copyProject(): ProjectCopy {
  const dir = mkdtempSync(join(tmpdir(), "endpoint-project-"));
  for (const entry of COPIED) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return { dir, cli: join(dir, "cli", "main.ts"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
