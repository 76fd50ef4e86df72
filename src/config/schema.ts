// The one schema of endpoint.yaml. The loader validates against it (with line and column for every fault),
// `bun run schema` turns it into the JSON Schema editors use, and Config is what the rest of Endpoint reads.
// No config value ever becomes a schema default (Elysia #1864): defaults live in normalize.ts, as plain code.
import { Type as t } from "@sinclair/typebox";
import type { Credential } from "../auth/principal.ts";

export const NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,63}$";
const duration = (description: string) =>
  t.Union([t.String({ pattern: "^\\s*\\d{1,9}\\s*[smhdwSMHDW]?\\s*$" }), t.Integer({ minimum: 0 })], { description: `${description} (e.g. 30s, 15m, 12h, 90d)` });

/** Cross-origin requests a route answers (CORS), on a route or as server.cors for every declared route. */
export const CorsEntry = t.Object(
  {
    origins: t.Array(t.String({ maxLength: 300, pattern: "^(\\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?)$" }), {
      minItems: 1,
      maxItems: 100,
      uniqueItems: true,
      description: "Exact origins whose pages may call the route, e.g. [https://app.example]; * = any (only without credentials)",
    }),
    methods: t.Optional(
      t.Array(t.Union([t.Literal("GET"), t.Literal("POST"), t.Literal("PUT"), t.Literal("PATCH"), t.Literal("DELETE")]), {
        minItems: 1,
        uniqueItems: true,
        description: "Methods a preflight may allow (default: the route's own)",
      }),
    ),
    headers: t.Optional(
      t.Array(t.String({ pattern: "^[A-Za-z0-9-]{1,64}$" }), { maxItems: 50, uniqueItems: true, description: "Request headers a preflight may allow (default [Authorization, Content-Type])" }),
    ),
    max_age: t.Optional(duration("How long a browser may keep a preflight's answer (default 10m)")),
    credentials: t.Optional(t.Boolean({ description: "true: the listed origins may call with the session cookie (and must still send X-CSRF-Token on changes); default false" })),
  },
  { additionalProperties: false, description: "Which other origins' pages may call this route from a browser (CORS); off when absent" },
);

/** One rate limit: at most `limit` requests per `window`, counted per token, user, address or for the whole route. */
export const RateLimitEntry = t.Object(
  {
    limit: t.Integer({ minimum: 1, maximum: 1_000_000_000, description: "Requests allowed in each window" }),
    window: duration("How long each window lasts, from 1s to 7d; windows start on whole multiples of it (e.g. 1m: each minute)"),
    per: t.Union([t.Literal("token"), t.Literal("user"), t.Literal("address"), t.Literal("route")], {
      description:
        "What is counted apart: token (each API token; signed-in browsers per user; anonymous callers per address), user (each user, whatever credential; anonymous per address), address (each client address, IPv6 per /64), route (everyone together)",
    }),
    name: t.Optional(t.String({ pattern: "^[a-z0-9][a-z0-9._-]{0,63}$", description: "The policy's name in RateLimit headers (default <per>-<seconds>s, e.g. token-60s)" })),
  },
  { additionalProperties: false },
);
const rateLimits = (description: string) =>
  t.Optional(
    t.Union([RateLimitEntry, t.Array(RateLimitEntry, { maxItems: 8, description: "Several limits; a request must fit all of them ([] = none)" })], {
      description,
    }),
  );

export const ServerSection = t.Object(
  {
    host: t.Optional(t.String({ minLength: 1, maxLength: 255, description: "Address to listen on (default 127.0.0.1)" })),
    port: t.Optional(t.Integer({ minimum: 1, maximum: 65535, description: "Port to listen on (default 8000)" })),
    public_url: t.Optional(t.String({ pattern: "^https?://[^/?#\\s]+/?$", description: "The site's address as browsers see it, e.g. https://endpoint.example (default http://localhost:<port>)" })),
    allowed_hosts: t.Optional(
      t.Array(t.String({ minLength: 1, maxLength: 261, pattern: "^(\\.?[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$" }), {
        maxItems: 100,
        description:
          "Host names the server answers for besides public_url's (production refuses any other Host with 400), e.g. [www.example.com, .example.com]; a leading dot takes subdomains, a port only that port",
      }),
    ),
    trusted_proxies: t.Optional(t.Integer({ minimum: 0, maximum: 10, description: "How many proxies (nginx…) stand in front; X-Forwarded-For is believed only that far (default 0)" })),
    body_limit: t.Optional(
      t.Union([t.String({ pattern: "^\\s*\\d{1,12}\\s*([bB]|[kKmM][bB]|[kKmM][iI][bB])?\\s*$" }), t.Integer({ minimum: 1 })], {
        description: "Largest request body accepted, e.g. 1mb or 512kb (default 1mb, at most 64mb)",
      }),
    ),
    json_max_depth: t.Optional(
      t.Integer({ minimum: 1, maximum: 512, description: "How deep arrays and objects may nest in a JSON request body; deeper bodies get 422 (default 32)" }),
    ),
    openapi: t.Optional(t.Union([t.Literal("public"), t.Literal("authenticated"), t.Literal("off")], { description: "Who may read /api/openapi.json (default authenticated)" })),
    shutdown_grace: t.Optional(duration("How long in-flight requests may take to finish at shutdown (default 10s)")),
    cors: t.Optional(CorsEntry),
    rate_limit: rateLimits("Limits for every route (declared and built-in, except /healthz and /readyz) that sets no rate_limit of its own, each route counted apart"),
    metrics: t.Optional(t.Union([t.Literal("on"), t.Literal("off")], { description: "Count requests for /metrics (default on); off also removes the /metrics route" })),
  },
  { additionalProperties: false, description: "The HTTP server" },
);

export const DatabaseSection = t.Object(
  {
    url: t.Optional(t.String({ description: "postgres://user:pass@host/db or pglite:PATH; DATABASE_URL and --database-url override it; none = embedded PGlite in data/" })),
  },
  { additionalProperties: false, description: "Where users, groups, sessions and tokens live" },
);

export const AuthSection = t.Object(
  {
    session: t.Optional(
      t.Object(
        {
          idle_timeout: t.Optional(duration("A session ends after this long without a request (default 30m)")),
          absolute_timeout: t.Optional(duration("A session ends this long after sign-in, active or not (default 12h)")),
          reauth_after: t.Optional(duration("Sensitive changes (tokens, admins, disabling or deleting users and groups) ask for the password again this long after it was last typed (default 15m)")),
        },
        { additionalProperties: false },
      ),
    ),
    cookie: t.Optional(
      t.Object(
        {
          name: t.Optional(t.String({ pattern: "^[A-Za-z0-9_-]{1,64}$", description: "Session cookie name (default __Host-session when secure, else endpoint_session)" })),
          secure: t.Optional(t.Union([t.Boolean(), t.Literal("auto")], { description: "Send the cookie over https only (default auto: when public_url is https)" })),
        },
        { additionalProperties: false },
      ),
    ),
    admin_group: t.Optional(t.String({ pattern: NAME_PATTERN, description: "Members of this group administer Endpoint (default admin)" })),
    tokens: t.Optional(
      t.Object(
        {
          default_expiry: t.Optional(duration("Lifetime of a new API token when none is asked for (default 90d)")),
          max_expiry: t.Optional(duration("Longest lifetime a token may be given (default 365d)")),
        },
        { additionalProperties: false },
      ),
    ),
    secret: t.Optional(t.String({ description: "Signs API tokens. Prefer ${ENDPOINT_SECRET}: never commit a secret" })),
    previous_secrets: t.Optional(t.Array(t.String(), { description: "Older secrets still accepted for verification while tokens are rotated" })),
    mail: t.Optional(
      t.Object(
        {
          host: t.String({ minLength: 1, maxLength: 255, pattern: "^[A-Za-z0-9.:\\[\\]-]+$", description: "SMTP server, e.g. smtp.example.com" }),
          port: t.Optional(t.Integer({ minimum: 1, maximum: 65535, description: "SMTP port (default 587; 465 for tls: implicit)" })),
          from: t.String({ minLength: 3, maxLength: 254, pattern: "^[^\\s@<>]+@[^\\s@<>]+$", description: "Sender address of password-reset mail, e.g. endpoint@example.com" }),
          tls: t.Optional(
            t.Union([t.Literal("starttls"), t.Literal("implicit"), t.Literal("off")], {
              description: "starttls (default): upgrade with STARTTLS and refuse a server without it; implicit: TLS from the start (port 465); off: plain text, loopback only",
            }),
          ),
          username: t.Optional(t.String({ minLength: 1, maxLength: 255, description: "SMTP login (AUTH PLAIN, only over TLS)" })),
          password: t.Optional(t.String({ maxLength: 1024, description: "SMTP password: use ${SMTP_PASSWORD}, never write it here" })),
        },
        { additionalProperties: false, description: "Send password-reset links by e-mail: the sign-in page then offers \"Forgot your password?\"" },
      ),
    ),
    mfa: t.Optional(
      t.Object(
        {
          required_for: t.Optional(t.Array(t.String({ pattern: NAME_PATTERN }), { uniqueItems: true, description: "Members of these groups must turn on two-step sign-in (TOTP) at their next sign-in, e.g. [admin] (default none)" })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: "Sessions, cookies and API tokens" },
);

export const GroupEntry = t.Object(
  { description: t.String({ maxLength: 500, description: "What the group is for" }) },
  { additionalProperties: false },
);

export const RouteEntry = t.Object(
  {
    name: t.String({ pattern: NAME_PATTERN, description: "Unique id of the route, used in logs, token scopes and `routes` output" }),
    method: t.Optional(t.Union([t.Literal("GET"), t.Literal("POST"), t.Literal("PUT"), t.Literal("PATCH"), t.Literal("DELETE")], { description: "HTTP method (default GET)" })),
    path: t.String({ minLength: 1, maxLength: 512, description: "Path with :param segments, e.g. /hooks/:source" }),
    handler: t.String({ pattern: "^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\\.[A-Za-z_$][A-Za-z0-9_$]*$", description: "<module>.<export>: routes/<module>.ts and a handler it exports" }),
    public: t.Optional(t.Boolean({ description: "true: anyone may call it, signed in or not" })),
    groups: t.Optional(t.Array(t.String({ pattern: "^(\\*|[a-z0-9][a-z0-9._-]{0,63})$" }), { minItems: 1, description: "Signed-in members of any of these groups may call it; [\"*\"] = anyone signed in" })),
    auth: t.Optional(t.Array(t.Union([t.Literal("session"), t.Literal("token")]), { minItems: 1, maxItems: 2, uniqueItems: true, description: "Credentials accepted: [session], [token] or both (default both)" })),
    description: t.Optional(t.String({ maxLength: 500, description: "Shown in `routes` output and the API docs" })),
    cors: t.Optional(CorsEntry),
    rate_limit: rateLimits("How many requests this route answers per window (replaces server.rate_limit; [] = no limit)"),
  },
  { additionalProperties: false },
);

export const EndpointConfigSchema = t.Object(
  {
    server: t.Optional(ServerSection),
    database: t.Optional(DatabaseSection),
    auth: t.Optional(AuthSection),
    groups: t.Optional(t.Record(t.String({ pattern: NAME_PATTERN }), GroupEntry, { description: "The groups routes may name, each with a description" })),
    routes: t.Array(RouteEntry, { description: "Every route the server answers, besides its built-in ones" }),
  },
  { additionalProperties: false, title: "endpoint.yaml", description: "Endpoint's routes, groups and settings" },
);

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface MailSettings {
  host: string;
  port: number;
  from: string;
  tls: "starttls" | "implicit" | "off";
  username?: string;
  password?: string;
}

/** A route's resolved CORS rule (route `cors`, else `server.cors`). */
export interface CorsPolicy {
  /** Exact origins, or ["*"] (never with credentials). */
  origins: readonly string[];
  methods: readonly HttpMethod[];
  /** Request headers a preflight allows, as written. */
  headers: readonly string[];
  maxAgeSeconds: number;
  credentials: boolean;
}

export type RateLimitKey = "token" | "user" | "address" | "route";

/** One resolved rate limit of a route. */
export interface RateLimitPolicy {
  /** Unique on its route; the name RateLimit-Policy and RateLimit headers give it. */
  name: string;
  limit: number;
  windowSeconds: number;
  per: RateLimitKey;
}

export interface RouteConfig {
  name: string;
  method: HttpMethod;
  path: string;
  /** "module.export" exactly as written. */
  handler: string;
  /** true ⇒ groups is []. */
  public: boolean;
  /** May contain "*" = any signed-in principal. */
  groups: string[];
  auth: Credential[];
  description?: string;
  /** Absent: no cross-origin calls (no CORS headers, preflights refused). */
  cors?: CorsPolicy;
  /** The route's own rate_limit, else server.rate_limit; empty = none. */
  rateLimits: readonly RateLimitPolicy[];
}

export interface Config {
  /** Absolute path of the YAML file. */
  file: string;
  /** sha256 hex of the file's bytes: lets two instances behind one proxy be told apart. */
  hash: string;
  server: {
    host: string;
    port: number;
    publicUrl: string;
    /** server.allowed_hosts, lower-cased. */
    allowedHosts: readonly string[];
    trustedProxies: number;
    bodyLimitBytes: number;
    /** server.json_max_depth: JSON bodies nesting arrays and objects deeper than this are refused before parsing. */
    jsonMaxDepth: number;
    openapi: "public" | "authenticated" | "off";
    shutdownGraceSeconds: number;
    /** server.rate_limit: what built-in routes get (declared routes have theirs resolved in RouteConfig). */
    rateLimits: readonly RateLimitPolicy[];
    /** server.metrics: false = no counting and no /metrics route. */
    metrics: boolean;
  };
  database: { url?: string };
  auth: {
    sessionIdleSeconds: number;
    sessionAbsoluteSeconds: number;
    /** Sudo mode: a session older than this (since its password was typed) must confirm it for sensitive changes. */
    reauthAfterSeconds: number;
    cookieName: string;
    cookieSecure: boolean;
    adminGroup: string;
    tokenDefaultExpirySeconds: number;
    tokenMaxExpirySeconds: number;
    secret?: string;
    verifySecrets: string[];
    /** auth.mfa.required_for: groups whose members must use two-step sign-in. */
    mfaRequiredFor: string[];
    /** auth.mail: where password-reset mail goes out; absent = no "forgot password" form. */
    mail?: MailSettings;
  };
  groups: Record<string, { description: string }>;
  routes: RouteConfig[];
}
