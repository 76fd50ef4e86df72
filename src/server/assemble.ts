// Puts one Endpoint together around an open database: secrets, the auth cache and its listener, the
// authenticator, the route table (built-ins and endpoint.yaml) and the app. start.ts adds the socket; tests
// call app.handle() with real Requests.
import type { DatabaseHandle } from "../../db/open.ts";
import { ensureDeclaredGroups } from "../accounts/groups.ts";
import { deriveMfaKeys } from "../accounts/mfa-cipher.ts";
import { accountRules } from "../accounts/rules.ts";
import { ActivityRecorder } from "../auth/activity.ts";
import { AuthCache } from "../auth/auth-cache.ts";
import { CredentialAuthenticator } from "../auth/authenticate.ts";
import { AcceptedOrigins } from "../auth/origins.ts";
import { PasswordChecker } from "../auth/password-check.ts";
import { PasswordGate } from "../auth/password-gate.ts";
import { type SigningSecrets, resolveSecrets } from "../auth/secret.ts";
import { TokenCodec } from "../auth/token-codec.ts";
import { loadHandlers } from "../config/handlers.ts";
import type { Config } from "../config/schema.ts";
import { type EndpointApp, createApp } from "./app.ts";
import { allBuiltinRoutes } from "./builtin/all.ts";
import { clientAddressResolver } from "./client-address.ts";
import { type Logger, attachSecurityLog } from "../logger.ts";
import { EndpointMetrics } from "./metrics.ts";
import { RateLimiter } from "./rate-limiter.ts";
import type { Route } from "./route.ts";
import { buildRouteTable } from "./route-table.ts";
import type { EndpointServices, Readiness } from "./services.ts";
import { SetupLink } from "./setup-link.ts";

export interface Endpoint {
  app: EndpointApp;
  table: Route[];
  cache: AuthCache;
  codec: TokenCodec;
  secrets: SigningSecrets;
  /** The one-time link that creates the first administrator, when the database has no user yet. */
  setupLink: string | null;
  /** A new table and app for a changed config, sharing this Endpoint's cache, secrets and database. */
  rebuild(config: Config): Promise<{ app: EndpointApp; table: Route[] }>;
  /** Tell the Endpoint which port it listens on (for the development origins). */
  listeningOn(port: number): void;
  /** Stop the listener and timers, and write pending "last used" times. */
  shutdown(): Promise<void>;
}

export interface AssembleOptions {
  config: Config;
  database: DatabaseHandle;
  log: Logger;
  mode: "development" | "production";
  env?: Record<string, string | undefined>;
  routesDir?: string;
  /** The socket peer's address (Bun's server.requestIP); absent for in-process requests. */
  peerAddress?: (request: Request) => string | undefined;
  checkReadiness?: () => Promise<Readiness>;
}

export async function assembleEndpoint(options: AssembleOptions): Promise<Endpoint> {
  const { config, database, log } = options;
  const secrets = resolveSecrets(config, { env: options.env, mode: options.mode });
  // Audited changes, lock-outs and sudo confirmations are logged as security events while this Endpoint runs.
  const detachSecurityLog = attachSecurityLog(log);
  const mfaKeys = deriveMfaKeys(secrets.verifying);
  const cache = new AuthCache(database.db);
  await cache.follow(database, log);
  // Tokens' `exp` is judged by the database's clock too, like every other expiry.
  const codec = new TokenCodec(secrets, cache.clock);
  const activity = new ActivityRecorder(database.db, log);
  activity.start();
  const gate = new PasswordGate();
  const passwords = new PasswordChecker(database.db, cache, gate);
  const setupLink = new SetupLink();
  const metrics = new EndpointMetrics(cache, database.poolUsage);
  // One limiter for the Endpoint's life: a reload keeps the permits held and the windows counted so far.
  const limiter = new RateLimiter(database.db, cache.clock, log);
  limiter.start();

  /** The port actually listened on (start.ts tells us): in development, forms at the loopback address on it work. */
  let listeningPort: number | undefined;
  let builtOrigins: AcceptedOrigins | undefined;

  /** The route table and app for one config: made at start-up, and again on each accepted reload. */
  const build = async (current: Config) => {
    // The groups endpoint.yaml declares exist before the first request (audited as actor `config`).
    const declared = await ensureDeclaredGroups(database.db, accountRules(current));
    if (declared.length) log.info("declared_groups_created", { groups: declared });
    const authenticator = new CredentialAuthenticator(current, cache, codec, activity);
    const handlers = await loadHandlers(current, options.routesDir);
    const readiness =
      options.checkReadiness ?? (async (): Promise<Readiness> => ({ ready: true, database: "ok", pendingMigrations: 0, lastMigration: null, configHash: current.hash }));
    const table = buildRouteTable(current, handlers, allBuiltinRoutes(current));
    const origins = new AcceptedOrigins(current.server.publicUrl, current.server.allowedHosts);
    if (options.mode === "development") origins.allowLoopback(listeningPort ?? current.server.port);
    else origins.enforceHosts();
    builtOrigins = origins;
    const endpoint: EndpointServices = { db: database.db, cache, codec, mfaKeys, gate, passwords, setupLink, origins, readiness, routes: table, metrics };
    const app = createApp({
      services: {
        endpoint,
        config: current,
        db: database.db,
        log,
        authenticator,
        clientAddress: clientAddressResolver(current.server.trustedProxies, options.peerAddress ?? (() => undefined)),
        origins,
        passwords,
        checkResponses: options.mode !== "production",
        limiter,
      },
      table,
    });
    return { app, table };
  };

  const { app, table } = await build(config);
  return {
    app,
    table,
    setupLink: await setupLink.prepare(database.db, config.server.publicUrl),
    cache,
    codec,
    secrets,
    rebuild: build,
    listeningOn(port) {
      listeningPort = port;
      if (options.mode === "development") builtOrigins?.allowLoopback(port);
    },
    async shutdown() {
      detachSecurityLog();
      await limiter.stop();
      await activity.stop();
      await cache.stop();
    },
  };
}
