// loadConfig(): read endpoint.yaml, check it against the schema and the rules a schema cannot say (unique
// routes, declared groups, existing handlers, deny by default), and return a frozen Config or every finding.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { isHandler } from "./handlers.ts";
import { LineCounter, parseDocument } from "yaml";
import { type Path, type Positions, checkDocument, describePath, pathKey } from "./check-schema.ts";
import { parseDuration, parseSize } from "./durations.ts";
import { ConfigError, type Finding, type FindingCode, formatFinding } from "./findings.ts";
import { defaultRoutesDir, resolveHandler } from "./handlers.ts";
import { type Config, EndpointConfigSchema, type HttpMethod, type RouteConfig } from "./schema.ts";
import { didYouMean } from "./suggest.ts";

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

/** Paths under these belong to Endpoint itself. */
export const RESERVED_PREFIXES = ["/admin", "/api", "/login", "/logout", "/healthz", "/readyz", "/setup", "/account", "/static"];
const MAX_BODY_LIMIT = 64 * 1024 * 1024;

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

  const config = normalize(raw, file, hash, report);
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

interface RawRoute {
  name?: string;
  method?: HttpMethod;
  path?: string;
  handler?: string;
  public?: boolean;
  groups?: string[];
  auth?: Array<"session" | "token">;
  description?: string;
}
interface RawConfig {
  server?: { host?: string; port?: number; public_url?: string; trusted_proxies?: number; body_limit?: string | number; openapi?: Config["server"]["openapi"]; shutdown_grace?: string | number };
  database?: { url?: string };
  auth?: {
    session?: { idle_timeout?: string | number; absolute_timeout?: string | number; reauth_after?: string | number };
    cookie?: { name?: string; secure?: boolean | "auto" };
    admin_group?: string;
    tokens?: { default_expiry?: string | number; max_expiry?: string | number };
    secret?: string;
    previous_secrets?: string[];
  };
  groups?: Record<string, { description?: string }>;
  routes?: Array<RawRoute | undefined>;
}

type Report = (path: Path, code: FindingCode, message: string, onKey?: boolean) => void;

/** Apply the defaults and turn durations and sizes into numbers. */
function normalize(raw: RawConfig, file: string, hash: string, report: Report): Config {
  const seconds = (value: string | number | undefined, fallback: number, path: Path) => {
    if (value === undefined) return fallback;
    const parsed = parseDuration(value);
    if (parsed === null) {
      report(path, "bad-value", `${path.join(".")} must be a duration such as 30s, 15m, 12h or 90d`);
      return fallback;
    }
    return parsed;
  };
  const server = raw.server ?? {};
  const port = server.port ?? 8000;
  const publicUrl = (server.public_url ?? `http://localhost:${port}`).replace(/\/$/, "");
  let bodyLimitBytes = 1024 * 1024;
  if (server.body_limit !== undefined) {
    const parsed = parseSize(server.body_limit);
    if (parsed === null || parsed < 1 || parsed > MAX_BODY_LIMIT) report(["server", "body_limit"], "bad-value", "server.body_limit must be a size from 1 byte to 64mb, e.g. 1mb or 512kb");
    else bodyLimitBytes = parsed;
  }
  const auth = raw.auth ?? {};
  const secure = auth.cookie?.secure ?? "auto";
  const cookieSecure = secure === "auto" ? publicUrl.startsWith("https://") : secure;
  const idle = seconds(auth.session?.idle_timeout, 30 * 60, ["auth", "session", "idle_timeout"]);
  const absolute = seconds(auth.session?.absolute_timeout, 12 * 3600, ["auth", "session", "absolute_timeout"]);
  const reauthAfter = seconds(auth.session?.reauth_after, 15 * 60, ["auth", "session", "reauth_after"]);
  if (absolute < idle) report(["auth", "session", "absolute_timeout"], "bad-value", "auth.session.absolute_timeout must not be shorter than idle_timeout");
  const tokenDefault = seconds(auth.tokens?.default_expiry, 90 * 86400, ["auth", "tokens", "default_expiry"]);
  const tokenMax = seconds(auth.tokens?.max_expiry, 365 * 86400, ["auth", "tokens", "max_expiry"]);
  if (tokenDefault > tokenMax) report(["auth", "tokens", "default_expiry"], "bad-value", "auth.tokens.default_expiry must not be longer than max_expiry");
  const cookieName = auth.cookie?.name ?? (cookieSecure ? "__Host-session" : "endpoint_session");
  if (cookieName.startsWith("__Host-") && !cookieSecure)
    report(["auth", "cookie", "name"], "bad-value", "a __Host- cookie name needs a secure cookie (https public_url or cookie.secure: true)");

  const groups: Config["groups"] = {};
  for (const [name, entry] of Object.entries(raw.groups ?? {})) groups[name] = { description: entry?.description ?? "" };

  const routes: RouteConfig[] = (raw.routes ?? []).flatMap((route) =>
    route?.name && route.path && route.handler
      ? [
          {
            name: route.name,
            method: route.method ?? "GET",
            path: route.path,
            handler: route.handler,
            public: route.public === true,
            groups: route.public === true ? [] : (route.groups ?? []),
            auth: route.auth ?? ["session", "token"],
            ...(route.description !== undefined ? { description: route.description } : {}),
          },
        ]
      : [],
  );

  return {
    file: resolve(file),
    hash,
    server: {
      host: server.host ?? "127.0.0.1",
      port,
      publicUrl,
      trustedProxies: server.trusted_proxies ?? 0,
      bodyLimitBytes,
      openapi: server.openapi ?? "authenticated",
      shutdownGraceSeconds: seconds(server.shutdown_grace, 10, ["server", "shutdown_grace"]),
    },
    database: raw.database?.url ? { url: raw.database.url } : {},
    auth: {
      sessionIdleSeconds: idle,
      reauthAfterSeconds: reauthAfter,
      sessionAbsoluteSeconds: absolute,
      cookieName,
      cookieSecure,
      adminGroup: auth.admin_group ?? "admin",
      tokenDefaultExpirySeconds: tokenDefault,
      tokenMaxExpirySeconds: tokenMax,
      ...(auth.secret ? { secret: auth.secret } : {}),
      verifySecrets: auth.previous_secrets ?? [],
    },
    groups,
    routes,
  };
}

const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const PARAM = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/** Why a route path is not acceptable, or null. */
function pathProblem(path: string): string | null {
  if (!path.startsWith("/")) return "must start with '/'";
  if (path === "/") return null;
  if (path.endsWith("/")) return "must not end with '/'";
  const seen = new Set<string>();
  for (const segment of path.slice(1).split("/")) {
    if (segment === "") return "must not contain '//'";
    if (segment === "." || segment === "..") return "must not contain '.' or '..' segments";
    if (segment.startsWith(":")) {
      if (!PARAM.test(segment)) return `parameter '${segment.slice(0, 40)}' must be ':' and a name of letters, digits or '_'`;
      if (seen.has(segment)) return `parameter '${segment}' appears twice`;
      seen.add(segment);
    } else if (!SEGMENT.test(segment)) return `segment '${segment.slice(0, 40)}' may hold only letters, digits, '.', '_', '~' or '-'`;
  }
  return null;
}

async function checkRoutes(raw: RawConfig, config: Config, report: Report, where: (path: Path) => string, routesDir: string | undefined): Promise<void> {
  const declared = Object.keys(config.groups);
  const byName = new Map<string, number>();
  const byMethodPath = new Map<string, number>();
  const positionsOf = (i: number) => ["routes", i] as Path;
  for (const [i, route] of (raw.routes ?? []).entries()) {
    if (!route) continue;
    const base = positionsOf(i);
    if (route.name) {
      const first = byName.get(route.name);
      if (first !== undefined) report([...base, "name"], "duplicate-route-name", `${where(base)}: the name '${route.name}' is already used by route #${first + 1}`);
      else byName.set(route.name, i);
    }
    if (route.path) {
      const problem = pathProblem(route.path);
      if (problem) report([...base, "path"], "bad-path", `${where(base)}: path ${problem}`);
      else {
        const reserved = RESERVED_PREFIXES.find((p) => route.path === p || route.path!.startsWith(`${p}/`));
        if (reserved) report([...base, "path"], "reserved-path", `${where(base)}: paths under ${reserved} belong to Endpoint itself; choose another path`);
        const shape = `${route.method ?? "GET"} ${route.path.replace(/:[A-Za-z0-9_]+/g, ":")}`;
        const first = byMethodPath.get(shape);
        if (first !== undefined)
          report([...base, "path"], "duplicate-route", `${where(base)}: ${route.method ?? "GET"} ${route.path} is already served by route '${raw.routes![first]?.name ?? `#${first + 1}`}'`);
        else byMethodPath.set(shape, i);
      }
    }
    // Deny by default: a route must say who may call it.
    if (route.public === true && route.groups) report([...base, "groups"], "conflicting-access-rule", `${where(base)} is public and also limited to groups; keep one`, true);
    else if (route.public !== true && !route.groups)
      report(base, "no-access-rule", `${where(base)} says nobody may call it: add 'public: true' or 'groups: [...]' (routes are denied by default)`);
    if (route.public === true && route.auth) report([...base, "auth"], "conflicting-access-rule", `${where(base)} is public, so 'auth' has no effect; remove it`, true);
    for (const [g, group] of (route.groups ?? []).entries()) {
      if (group === "*" || group === config.auth.adminGroup || declared.includes(group)) continue;
      report([...base, "groups", g], "unknown-group", `${where(base)} names group '${group}', which groups: does not declare${didYouMean(group, declared)}`);
    }
    if (routesDir && route.handler) {
      const resolved = await resolveHandler(routesDir, route.handler);
      if (!isHandler(resolved)) report([...base, "handler"], resolved.code, `${where(base)}: ${resolved.message}`);
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export type { Positions };
