// Starting and stopping the HTTP server: load and check the config, open the database, build the route table,
// listen, and on SIGTERM/SIGINT finish what is in flight before closing the database.
import { isAbsolute, relative } from "node:path";
import type { Server } from "bun";
import { type Kysely, sql } from "kysely";
import { MIGRATIONS_DIR, migrateToLatest, migrationStatus } from "../../db/migrate.ts";
import { type DatabaseHandle, openDatabase } from "../../db/open.ts";
import type { Database } from "../../db/schema.ts";
import { defaultRoutesDir, forgetHandlerModules } from "../config/handlers.ts";
import { formatFinding, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { assembleEndpoint } from "./assemble.ts";
import type { Readiness } from "./services.ts";
import { type Logger, bufferedSink, createLogger } from "../logger.ts";

export interface StartOptions {
  config: Config;
  /** Resolved database URL (undefined = embedded PGlite). */
  databaseUrl?: string;
  /** dev-server: create and migrate the embedded database itself. serve: refuse pending migrations unless `migrate`. */
  mode: "development" | "production";
  migrate?: boolean;
  routesDir?: string;
  log?: Logger;
  env?: Record<string, string | undefined>;
  /** Override host/port (tests use port 0). */
  port?: number;
  host?: string;
  /** dev-server: serve the embedded database on a local socket so the CLI and psql work beside the server. */
  shareEmbeddedDatabase?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  database: DatabaseHandle;
  log: Logger;
  /** Stop accepting, let in-flight requests finish within the grace period, close the database. */
  stop(): Promise<void>;
  /** The one-time first-run link, when the database had no user at start-up. */
  setupLink: string | null;
  /** Resolves once the server has stopped (after stop() or a signal). */
  stopped: Promise<void>;
  /**
   * Re-read and validate endpoint.yaml (and, with `freshModules`, re-import the handler modules under routes/);
   * swap in the new route table at once only when it all loads, otherwise keep serving the old one and log the
   * findings, which are also returned (formatted as `validate` prints them).
   */
  reload(options?: { freshModules?: boolean }): Promise<ReloadResult>;
  /** Where the handler modules are imported from. */
  routesDir: string;
}

export type ReloadResult = { ok: true; routes: number } | { ok: false; findings: string[] };

export class StartError extends Error {}

/**
 * In development the setup link points at the address actually listened on (where its form will be accepted),
 * not at public_url's default; in production it is public_url's.
 */
function developmentLink(link: string | null, config: Config, mode: "development" | "production", listened: string): string | null {
  if (!link || mode !== "development") return link;
  return link.replace(config.server.publicUrl, listened);
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config, mode } = options;
  const sink = bufferedSink(1);
  const log = options.log ?? createLogger(sink, "info");
  // Requests fail fast when the database is down or hung: 2 s per query (or wait for a pooled connection),
  // after which the query is cancelled and the answer is 503. On PostgreSQL the server enforces the same limit
  // itself, a little later so the request's own deadline answers first: no statement (and no transaction left
  // idle) outlives the request that gave up on it, even when the cancel cannot reach the server.
  const database = await openDatabase(options.databaseUrl, {
    create: mode === "development",
    queryTimeoutMs: 2_000,
    statementTimeoutMs: 2_500,
    idleInTransactionTimeoutMs: 2_500,
    share: options.shareEmbeddedDatabase,
  });
  try {
    await prepareSchema(database, mode, options.migrate ?? false, log);
    let server: Server<unknown> | undefined;
    let current = config;
    let stopping: Promise<void> | undefined;
    const endpoint = await assembleEndpoint({
      config,
      database,
      log,
      mode,
      routesDir: options.routesDir,
      env: options.env,
      peerAddress: (request) => server?.requestIP(request)?.address,
      checkReadiness: async () => {
        const readiness = await checkReadiness(database.db, current);
        // While shutting down, tell the proxy to send new requests elsewhere.
        return stopping ? { ...readiness, ready: false } : readiness;
      },
    });
    const { app, table } = endpoint;
    // Elysia's listen hands every route to Bun's native router. Explicit: no error pages with stacks
    // (development: false), and a second process may not silently share the port (reusePort: false).
    app.listen({
      hostname: options.host ?? config.server.host,
      port: options.port ?? config.server.port,
      development: false,
      reusePort: false,
      maxRequestBodySize: config.server.bodyLimitBytes,
      idleTimeout: 30,
    });
    server = app.server!;
    const url = `http://${server.hostname}:${server.port}`;
    endpoint.listeningOn(server.port ?? config.server.port);
    log.info("server_started", { url, mode, database: database.displayUrl, routes: table.length, config_hash: config.hash });

    let resolveStopped!: () => void;
    const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
    const stop = () =>
      (stopping ??= (async () => {
        log.info("server_stopping", { grace_seconds: config.server.shutdownGraceSeconds });
        const graceful = server!.stop(false);
        const timeout = new Promise<"timeout">((r) => setTimeout(r, config.server.shutdownGraceSeconds * 1000, "timeout").unref());
        if ((await Promise.race([graceful, timeout])) === "timeout") await server!.stop(true);
        await endpoint.shutdown().catch(() => {});
        await database.close().catch(() => {});
        log.info("server_stopped");
        sink.flush();
        resolveStopped();
      })());
    const routesDir = options.routesDir ?? defaultRoutesDir(config.file);
    const reload = async ({ freshModules = false } = {}): Promise<ReloadResult> => {
      if (freshModules) forgetHandlerModules(routesDir);
      const result = await loadConfig(config.file, { env: options.env ?? process.env, routesDir });
      if (!result.ok) {
        // As validate prints them: the file as given relative to the working folder.
        const findings = result.findings.map((finding) => formatFinding({ ...finding, file: shownPath(finding.file) }));
        log.warn("config_reload_rejected", { file: config.file, findings });
        return { ok: false, findings };
      }
      const next = await endpoint.rebuild(result.config);
      // The new app routes in JavaScript (Elysia's router); native routes are set up by listen() at start.
      server!.reload({ routes: {}, fetch: next.app.fetch } as Parameters<Server<unknown>["reload"]>[0]);
      const restartOnly = (["host", "port", "bodyLimitBytes", "shutdownGraceSeconds"] as const).filter((k) => result.config.server[k] !== current.server[k]);
      if (restartOnly.length) log.warn("config_reload_needs_restart", { settings: restartOnly.map((k) => `server.${k}`) });
      current = result.config;
      log.info("config_reloaded", { config_hash: current.hash, routes: next.table.length });
      return { ok: true, routes: next.table.length };
    };
    return { url, port: server.port ?? 0, database, log, stop, stopped, reload, routesDir, setupLink: developmentLink(endpoint.setupLink, config, mode, url) };
  } catch (error) {
    await database.close().catch(() => {});
    throw error;
  }
}

function shownPath(file: string): string {
  const fromHere = relative(process.cwd(), file);
  return fromHere.startsWith("..") || isAbsolute(fromHere) ? file : `./${fromHere}`;
}

async function prepareSchema(database: DatabaseHandle, mode: StartOptions["mode"], migrate: boolean, log: Logger): Promise<void> {
  const pending = (await migrationStatus(database.db)).filter((m) => !m.appliedAt);
  if (pending.length === 0) return;
  if (mode === "development" || migrate) {
    const steps = await migrateToLatest(database.db);
    log.info("migrations_applied", { migrations: steps.map((s) => s.name) });
    return;
  }
  throw new StartError(
    `database ${database.displayUrl} has ${pending.length} pending migration${pending.length === 1 ? "" : "s"}; apply them with: bun run cli migrate latest (or start with --migrate)`,
  );
}

/** /readyz: the database answers within 2 s and every migration in db/migrations is applied. */
async function checkReadiness(db: Kysely<Database>, config: Config): Promise<Readiness> {
  const base = { configHash: config.hash };
  try {
    const status = await withTimeout(migrationStatus(db, MIGRATIONS_DIR), 2000);
    await withTimeout(sql`select 1`.execute(db), 2000);
    const applied = status.filter((m) => m.appliedAt);
    const pending = status.length - applied.length;
    return { ...base, ready: pending === 0, database: "ok", pendingMigrations: pending, lastMigration: applied.at(-1)?.name ?? null };
  } catch {
    return { ...base, ready: false, database: "unavailable", pendingMigrations: 0, lastMigration: null };
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return Promise.race([work, new Promise<T>((_, reject) => setTimeout(() => reject(new Error("timed out")), ms).unref())]);
}
