// Route rules: what endpoint.yaml's routes must obey beyond the schema — paths, reserved prefixes, unique names and
// method+path pairs, an explicit access rule (deny by default), declared groups, and handlers that exist.
import type { Path } from "./check-schema.ts";
import type { RawConfig, Report } from "./defaults.ts";
import { isHandler, resolveHandler } from "./handlers.ts";
import type { Config } from "./schema.ts";
import { didYouMean } from "./suggest.ts";

/** Paths under these belong to Endpoint itself. */
export const RESERVED_PREFIXES = ["/admin", "/api", "/login", "/logout", "/healthz", "/readyz", "/setup", "/account", "/static", "/metrics"];

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

export async function checkRoutes(raw: RawConfig, config: Config, report: Report, where: (path: Path) => string, routesDir: string | undefined): Promise<void> {
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
      else if (resolved.signedIn && route.public === true)
        report([...base, "public"], "public-route-needs-caller", `${where(base)} is public, but handler ${route.handler} serves signed-in callers only (signedIn: true); limit the route to groups`, true);
    }
  }
}
