// Puts one Endpoint together around an open database: secrets, the auth cache and its listener, the
// authenticator, the route table (built-ins and endpoint.yaml) and the app. start.ts adds the socket; tests
// call app.handle() with real Requests.
import type { DatabaseHandle } from "../../db/open.ts";
import { ActivityRecorder } from "../auth/activity.ts";
import { AuthCache } from "../auth/auth-cache.ts";
import { CredentialAuthenticator } from "../auth/authenticate.ts";
import { PasswordGate } from "../auth/password-gate.ts";
import { type SigningSecrets, resolveSecrets } from "../auth/secret.ts";
import { TokenCodec } from "../auth/tokens.ts";
import { loadHandlers } from "../config/handlers.ts";
import type { Config } from "../config/schema.ts";
import { type EndpointApp, createApp } from "./app.ts";
import { type Readiness, builtinRoutes } from "./builtin-routes.ts";
import { clientAddressResolver } from "./client-address.ts";
import type { Logger } from "./logger.ts";
import { type LoginServices, loginRoutes } from "./login-routes.ts";
import { type BuiltinRoute, type RouteEntry, buildRouteTable } from "./route-table.ts";

export interface Endpoint {
  app: EndpointApp;
  table: RouteEntry[];
  cache: AuthCache;
  codec: TokenCodec;
  secrets: SigningSecrets;
  /** Stop the listener and timers, and write pending "last used" times. */
  shutdown(): Promise<void>;
}

/** Endpoint's own routes, in the order `routes` lists them. */
export function allBuiltinRoutes(config: Config, readiness: () => Promise<Readiness>, login: () => LoginServices): BuiltinRoute[] {
  return [...builtinRoutes(readiness), ...loginRoutes(config, login)];
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
  const codec = new TokenCodec(secrets);
  const cache = new AuthCache(database.db);
  await cache.follow(database, log);
  const activity = new ActivityRecorder(database.db, log);
  activity.start();
  const authenticator = new CredentialAuthenticator(config, cache, codec, activity);
  const handlers = await loadHandlers(config, options.routesDir);
  const readiness =
    options.checkReadiness ?? (async (): Promise<Readiness> => ({ ready: true, database: "ok", pendingMigrations: 0, lastMigration: null, configHash: config.hash }));
  const loginServices = { db: database.db, cache, gate: new PasswordGate() };
  const table = buildRouteTable(config, handlers, allBuiltinRoutes(config, readiness, () => loginServices));
  const app = createApp({
    services: {
      config,
      db: database.db,
      log,
      authenticator,
      clientAddress: clientAddressResolver(config.server.trustedProxies, options.peerAddress ?? (() => undefined)),
      publicOrigin: new URL(config.server.publicUrl).origin,
    },
    table,
  });
  return {
    app,
    table,
    cache,
    codec,
    secrets,
    async shutdown() {
      await activity.stop();
      await cache.stop();
    },
  };
}
