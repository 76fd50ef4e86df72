// loadConfig(): parse endpoint.yaml (YAML with positions, hostile input refused), check it against the schema, apply
// the defaults (defaults.ts) and the route rules (route-rules.ts), and return a frozen Config or every finding.
import { existsSync, readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { type Path, type Positions, checkDocument, describePath, pathKey } from "./check-schema.ts";
import { type RawConfig, applyDefaults } from "./defaults.ts";
import { ConfigError, type Finding, type FindingCode, formatFinding } from "./findings.ts";
import { defaultRoutesDir } from "./handlers.ts";
import { checkRoutes } from "./route-rules.ts";
import { type Config, EndpointConfigSchema } from "./schema.ts";

export { ConfigError, formatFinding, type Finding };

export type LoadResult = { ok: true; config: Config; findings: [] } | { ok: false; findings: Finding[] };

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Where handler modules live (default: routes/ beside the config file). */
  routesDir?: string;
  /** Import handler modules and check their exports (default true). */
  checkHandlers?: boolean;
  /** The groups a database has (lower-case): every group a route names must be one of them (`validate --database`). */
  databaseGroups?: ReadonlySet<string>;
}

export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadResult> {
  if (!existsSync(file))
    return { ok: false, findings: [{ file, line: 1, col: 1, code: "file-not-found", message: `cannot read config file '${file}': file not found` }] };
  const bytes = readFileSync(file);
  return loadConfigText(bytes.toString("utf8"), file, options, new Bun.CryptoHasher("sha256").update(bytes).digest("hex"));
}

export async function loadConfigOrThrow(file: string, options?: LoadOptions): Promise<Config> {
  const result = await loadConfig(file, options);
  if (!result.ok) throw new ConfigError(result.findings);
  return result.config;
}

export async function loadConfigText(text: string, file: string, options: LoadOptions = {}, hash = ""): Promise<LoadResult> {
  const env = options.env ?? process.env;
  const lines = new LineCounter();
  const findings: Finding[] = [];
  const at = (offset: number): [number, number] => {
    const { line, col } = lines.linePos(offset);
    return [line, col];
  };
  let doc: ReturnType<typeof parseDocument>;
  try {
    // YAML 1.2 core schema, unique keys, at most 100 aliases (no billion laughs), no custom tags.
    doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true, version: "1.2" });
  } catch (error) {
    return { ok: false, findings: [{ file, line: 1, col: 1, code: "yaml-syntax", message: `cannot parse YAML: ${(error as Error).message.split("\n")[0]}` }] };
  }
  for (const problem of [...doc.errors, ...doc.warnings]) {
    const [line, col] = at(problem.pos[0]);
    const code: FindingCode = problem.code === "DUPLICATE_KEY" ? "duplicate-key" : "yaml-syntax";
    const message = problem.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    findings.push({ file, line, col, code, message: code === "duplicate-key" ? message.replace(/^Map keys must be unique/, "a key appears twice in this mapping") : message });
  }
  if (findings.length) return { ok: false, findings };
  try {
    doc.toJS({ maxAliasCount: 100 }); // expands aliases once, so an alias bomb fails here, quickly
  } catch (error) {
    return { ok: false, findings: [{ file, line: 1, col: 1, code: "yaml-syntax", message: `cannot read YAML: ${(error as Error).message.split("\n")[0]}` }] };
  }

  const checked = checkDocument(doc, lines, EndpointConfigSchema, { file, env });
  findings.push(...checked.findings);
  const raw = (checked.value ?? {}) as RawConfig;
  const report = (path: Path, code: FindingCode, message: string, onKey = false) => {
    const [line, col] = (onKey ? checked.positions.key.get(pathKey(path)) : undefined) ?? checked.positions.value.get(pathKey(path)) ?? [1, 1];
    findings.push({ file, line, col, code, message });
  };
  const routeNames = new Map<number, string>((raw.routes ?? []).map((r, i) => [i, r?.name ?? ""] as [number, string]).filter(([, n]) => n));
  const where = (path: Path) => describePath(path, routeNames);

  const config = applyDefaults(raw, file, hash, report);
  await checkRoutes(raw, config, report, where, options.checkHandlers === false ? undefined : (options.routesDir ?? defaultRoutesDir(file)));
  if (options.databaseGroups) {
    for (const [r, route] of (raw.routes ?? []).entries())
      for (const [g, group] of (route?.groups ?? []).entries())
        if (group !== "*" && !options.databaseGroups.has(group))
          report(["routes", r, "groups", g], "group-not-in-database", `${where(["routes", r])} names group '${group}', which the database does not have; create it with: bun run cli migrate latest`);
  }
  findings.sort((a, b) => a.line - b.line || a.col - b.col);
  if (findings.length) return { ok: false, findings };
  return { ok: true, config: deepFreeze(config), findings: [] };
}



function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export type { Positions };
