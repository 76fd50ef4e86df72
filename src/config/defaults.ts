// Defaults: turns the checked YAML into a Config, filling in every default and turning durations and sizes into
// numbers. The raw shape (what the YAML holds before defaults) lives here too.
import { resolve } from "node:path";
import type { Path } from "./check-schema.ts";
import { parseDuration, parseSize } from "./durations.ts";
import type { FindingCode } from "./findings.ts";
import type { Config, CorsPolicy, HttpMethod, RateLimitKey, RateLimitPolicy, RouteConfig } from "./schema.ts";

const MAX_BODY_LIMIT = 64 * 1024 * 1024;

export interface RawRoute {
  name?: string;
  method?: HttpMethod;
  path?: string;
  handler?: string;
  public?: boolean;
  groups?: string[];
  auth?: Array<"session" | "token">;
  description?: string;
  cors?: RawCors;
  rate_limit?: RawRateLimit | RawRateLimit[];
}
export interface RawRateLimit {
  limit?: number;
  window?: string | number;
  per?: RateLimitKey;
  name?: string;
}
export interface RawCors {
  origins?: string[];
  methods?: HttpMethod[];
  headers?: string[];
  max_age?: string | number;
  credentials?: boolean;
}
export interface RawConfig {
  server?: { host?: string; port?: number; public_url?: string; allowed_hosts?: string[]; trusted_proxies?: number; body_limit?: string | number; json_max_depth?: number; openapi?: Config["server"]["openapi"]; shutdown_grace?: string | number; cors?: RawCors; rate_limit?: RawRateLimit | RawRateLimit[]; metrics?: "on" | "off" };
  database?: { url?: string };
  auth?: {
    session?: { idle_timeout?: string | number; absolute_timeout?: string | number; reauth_after?: string | number };
    cookie?: { name?: string; secure?: boolean | "auto" };
    admin_group?: string;
    tokens?: { default_expiry?: string | number; max_expiry?: string | number };
    secret?: string;
    previous_secrets?: string[];
    mfa?: { required_for?: string[] };
    mail?: { host: string; port?: number; from: string; tls?: "starttls" | "implicit" | "off"; username?: string; password?: string };
  };
  groups?: Record<string, { description?: string }>;
  routes?: Array<RawRoute | undefined>;
}

export type Report = (path: Path, code: FindingCode, message: string, onKey?: boolean) => void;

/** Apply the defaults and turn durations and sizes into numbers. */
export function applyDefaults(raw: RawConfig, file: string, hash: string, report: Report): Config {
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

  // A misspelt group here would silently leave its members without a second factor: refuse it like a route's.
  const mfaRequiredFor = auth.mfa?.required_for ?? [];
  for (const [i, group] of mfaRequiredFor.entries())
    if (group !== (auth.admin_group ?? "admin") && !Object.hasOwn(groups, group))
      report(["auth", "mfa", "required_for", i], "unknown-group", `auth.mfa.required_for names group '${group}', which groups: does not declare`);

  // A route's own `cors` replaces server.cors whole (no merging of lists: what applies is written in one place).
  const corsSeconds = (cors: RawCors | undefined, path: Path, label: string) => {
    if (!cors) return 0;
    const wildcard = cors.origins?.indexOf("*") ?? -1;
    if (cors.credentials === true && wildcard !== -1)
      report([...path, "origins", wildcard], "bad-value", `${label} must list exact origins when credentials is true ('*' would let any site act with a visitor's session)`);
    return seconds(cors.max_age, 600, [...path, "max_age"]);
  };
  const serverCorsMaxAge = corsSeconds(server.cors, ["server", "cors"], "server.cors.origins");
  const corsFor = (route: RawRoute, i: number): CorsPolicy | undefined => {
    if (route.cors) return corsPolicy(route.cors, route.method ?? "GET", corsSeconds(route.cors, ["routes", i, "cors"], `route '${route.name}': cors.origins`));
    return server.cors ? corsPolicy(server.cors, route.method ?? "GET", serverCorsMaxAge) : undefined;
  };
  // Likewise a route's own rate_limit replaces server.rate_limit whole; `[]` turns a default off for one route.
  const serverRateLimits = rateLimitPolicies(server.rate_limit, ["server", "rate_limit"], "server.rate_limit", report);
  const routes: RouteConfig[] = (raw.routes ?? []).flatMap((route, i) =>
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
            ...(route.cors || server.cors ? { cors: corsFor(route, i)! } : {}),
            rateLimits:
              route.rate_limit === undefined ? serverRateLimits : rateLimitPolicies(route.rate_limit, ["routes", i, "rate_limit"], `route '${route.name}': rate_limit`, report),
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
      allowedHosts: (server.allowed_hosts ?? []).map((host) => host.toLowerCase()),
      trustedProxies: server.trusted_proxies ?? 0,
      bodyLimitBytes,
      jsonMaxDepth: server.json_max_depth ?? 32,
      openapi: server.openapi ?? "authenticated",
      shutdownGraceSeconds: seconds(server.shutdown_grace, 10, ["server", "shutdown_grace"]),
      rateLimits: serverRateLimits,
      metrics: server.metrics !== "off",
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
      mfaRequiredFor,
      ...(auth.mail ? { mail: mailSettings(auth.mail, report) } : {}),
    },
    groups,
    routes,
  };
}

/** Windows from one second to a week: shorter cannot be settled between instances, longer outlives any counter worth keeping. */
const MAX_RATE_WINDOW_SECONDS = 7 * 86400;

/** A `rate_limit` (one mapping or a list) as policies, each named; a bad window or a repeated name is reported where it is written. */
function rateLimitPolicies(raw: RawRateLimit | RawRateLimit[] | undefined, path: Path, label: string, report: Report): RateLimitPolicy[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  const policies: RateLimitPolicy[] = [];
  for (const [i, entry] of list.entries()) {
    if (!entry || entry.limit === undefined || entry.window === undefined || entry.per === undefined) continue; // the schema reported it
    const at: Path = Array.isArray(raw) ? [...path, i] : path;
    // Named like the schema's own findings (rate_limit.window, rate_limit.1.window): in a list, which item.
    const item = Array.isArray(raw) ? `${label}.${i}` : label;
    const windowSeconds = parseDuration(entry.window);
    if (windowSeconds === null || windowSeconds < 1 || windowSeconds > MAX_RATE_WINDOW_SECONDS) {
      report([...at, "window"], "bad-value", `${item}.window must be a duration from 1s to 7d, such as 1m or 1h (got '${String(entry.window).slice(0, 40)}')`);
      continue;
    }
    const name = entry.name ?? `${entry.per}-${windowSeconds}s`;
    if (policies.some((policy) => policy.name === name)) {
      report(entry.name ? [...at, "name"] : at, "bad-value", `${label}: two limits are named '${name}'; give one a different window, per or name`);
      continue;
    }
    policies.push({ name, limit: entry.limit, windowSeconds, per: entry.per });
  }
  return policies;
}

/** A `cors` mapping with its defaults (methods: the route's own; headers: Authorization and Content-Type). */
function corsPolicy(cors: RawCors, method: HttpMethod, maxAgeSeconds: number): CorsPolicy {
  return {
    origins: cors.origins ?? [],
    methods: cors.methods ?? [method],
    headers: cors.headers ?? ["Authorization", "Content-Type"],
    maxAgeSeconds,
    credentials: cors.credentials === true,
  };
}

/** auth.mail with its defaults. Credentials travel only encrypted: a login with `tls: off` is refused. */
function mailSettings(mail: NonNullable<NonNullable<RawConfig["auth"]>["mail"]>, report: Report): NonNullable<Config["auth"]["mail"]> {
  const tls = mail.tls ?? "starttls";
  if (tls === "off" && mail.username) report(["auth", "mail", "tls"], "bad-value", "auth.mail.username needs tls: starttls or implicit; a password must not cross the network in clear");
  // Plain SMTP carries reset links (passwords in all but name) readable on the wire: only to this machine.
  if (tls === "off" && !["127.0.0.1", "::1", "[::1]", "localhost"].includes(mail.host.toLowerCase()))
    report(["auth", "mail", "tls"], "bad-value", "auth.mail.tls: off is allowed only for a mail server on this machine (127.0.0.1, ::1 or localhost)");
  return {
    host: mail.host,
    port: mail.port ?? (tls === "implicit" ? 465 : 587),
    from: mail.from,
    tls,
    ...(mail.username ? { username: mail.username, password: mail.password ?? "" } : {}),
  };
}
