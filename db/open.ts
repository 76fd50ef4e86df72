// The one factory that opens Endpoint's database: PostgreSQL through postgres.js for a postgres:// URL, embedded
// PGlite on disk otherwise. Everything above db/ gets a Kysely instance and never learns which it got.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { CompiledQuery, Kysely, PGliteDialect } from "kysely";
import postgres from "postgres";
import { DatabaseError, isConnectionFailure, sqlState } from "./errors.ts";
import { NotificationListener } from "./notification-listener.ts";
import { type SharedAddress, shareDatabase } from "./pglite-share.ts";
import { type PoolDemand, type PoolUsage, PostgresJsDialect, poolUsage } from "./postgres-js-dialect.ts";
import type { Database } from "./schema.ts";

/** Where the embedded database lives when no URL is given. */
export const DEFAULT_PGLITE_PATH = "data/pglite";

export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "pglite"; path: string };

export interface DatabaseHandle {
  db: Kysely<Database>;
  backend: DatabaseTarget["kind"];
  /** The URL as a person may see it: any password replaced by `***`. */
  displayUrl: string;
  /** How psql reaches an embedded database this process shares (dev-server); undefined otherwise. */
  psqlCommand?: string;
  /**
   * Run `onMessage` for each NOTIFY on `channel`. `onConnect` runs each time the listener (re)connects: a
   * reconnect means notifications may have been missed, so callers drop what they cached. On PostgreSQL, `onLost`
   * runs when the listener stops answering its heartbeat (a hung connection): notifications may be missed until
   * `onConnect` runs again, so callers should not cache meanwhile.
   */
  listen(channel: string, onMessage: (payload: string) => void, onConnect?: () => void, onLost?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /** PostgreSQL: the query pool's size, connections in use and wants waiting (absent for embedded PGlite). */
  poolUsage?: () => PoolUsage;
}

export interface OpenOptions {
  /** Create the PostgreSQL database (init-db) or the PGlite folder when missing. */
  create?: boolean;
  /** Server-side limit on any one statement (PostgreSQL's statement_timeout); 0 = none (migrations). Default 10 s. */
  statementTimeoutMs?: number;
  /** Server-side limit on a transaction left idle (idle_in_transaction_session_timeout); 0 = none. Default 30 s. */
  idleInTransactionTimeoutMs?: number;
  /** Connection pool size for PostgreSQL. */
  poolSize?: number;
  /** Client-side deadline for a query or for a pooled connection (PostgreSQL); 0 = none. */
  queryTimeoutMs?: number;
  /**
   * Embedded only: serve the database on a local socket while it is open, so the CLI and psql can use it beside
   * this process (dev-server). Without it, a second process is refused while this one holds the folder.
   */
  share?: boolean;
}

/** Decide the backend from a URL: postgres(ql)://… or pglite:PATH; none means embedded PGlite under data/. */
export function parseDatabaseUrl(url: string | undefined): DatabaseTarget {
  if (!url) return { kind: "pglite", path: DEFAULT_PGLITE_PATH };
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new DatabaseError("bad-url", `database URL is not a valid URL: ${redactUrl(url)}`);
    }
    return { kind: "postgres", url };
  }
  if (url.startsWith("pglite:")) {
    const path = url.slice("pglite:".length);
    if (!path) throw new DatabaseError("bad-url", "database URL 'pglite:' needs a folder, e.g. pglite:data/pglite");
    return { kind: "pglite", path };
  }
  throw new DatabaseError(
    "bad-url",
    `database URL must start with postgres://, postgresql:// or pglite: (got '${redactUrl(url).slice(0, 40)}')`,
  );
}

/** The URL with its password replaced, safe for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, "$1***@");
}

export async function openDatabase(url: string | undefined, options: OpenOptions = {}): Promise<DatabaseHandle> {
  const target = parseDatabaseUrl(url);
  return target.kind === "postgres" ? openPostgres(target.url, options) : openPGlite(target.path, options);
}

/** A PostgreSQL server by URL, or an embedded database shared by another process (`through` its socket). */
async function openPostgres(
  url: string,
  options: OpenOptions,
  through?: { address: SharedAddress; displayUrl: string; ownerPid: number },
): Promise<DatabaseHandle> {
  const displayUrl = through?.displayUrl ?? redactUrl(url);
  const socket = through && ("socketPath" in through.address ? { path: through.address.socketPath } : { host: through.address.host, port: through.address.port });
  // Every session on a PostgreSQL server gets the same limits, so a statement or transaction its client gave up
  // on stops on the server too. A shared embedded database has one session for every client: settings sent there
  // would change the dev server's too, so none are.
  const settings = through
    ? {}
    : {
        statement_timeout: options.statementTimeoutMs ?? 10_000,
        idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 30_000,
      };
  const connect = () =>
    postgres(url, {
      ...socket,
      max: options.poolSize ?? 10, // poolSize below, for /metrics
      // postgres.js sends a query to a busy connection, behind the running one, when every connection is busy.
      // Such a query cannot be taken back: it runs after its request has given up (and after the Terminate of a
      // replaced pool), one after another for minutes in an overload. Queued in the pool instead, a query whose
      // deadline passes is simply dropped.
      ...(through ? {} : { max_pipeline: 0 }),
      connect_timeout: 5, // the default 30 s hides an unreachable server
      idle_timeout: 60,
      onnotice: () => {},
      // postgres.js JSON.stringify()s every value bound to a json/jsonb parameter, so a string holding JSON text was
      // stored as a JSON *string* (PGlite stores it as the object). Pass text through as PGlite does: an object and
      // its JSON text now store the same value on both backends.
      types: {
        json: {
          to: 114,
          from: [114, 3802],
          serialize: (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value)),
          parse: (text: string) => JSON.parse(text),
        },
      },
      connection: (through ? {} : { application_name: "endpoint", ...settings }) as Record<string, string | number>,
    });
  let sql = connect();
  try {
    await sql`select 1`;
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    if (sqlState(error) === "3D000" && options.create) {
      await createPostgresDatabase(url, displayUrl);
      sql = connect();
      await sql`select 1`.catch((again) => {
        throw describePostgresFailure(again, displayUrl);
      });
    } else {
      throw describePostgresFailure(error, displayUrl);
    }
  }
  const demand: PoolDemand = { statements: 0, reserved: 0, reserving: 0 };
  const poolSize = options.poolSize ?? 10;
  const db = new Kysely<Database>({ dialect: new PostgresJsDialect(connect, sql, { queryTimeoutMs: options.queryTimeoutMs ?? 0, usage: demand }) });
  // Notifications get a connection of their own, apart from the query pool (which may be replaced); its heartbeat
  // goes out through the pool, the way every other change does.
  let listener: NotificationListener | undefined;
  return {
    db,
    backend: "postgres",
    displayUrl,
    poolUsage: () => poolUsage(demand, poolSize),
    async listen(channel, onMessage, onConnect, onLost) {
      // Notifications of a shared embedded database reach only the process that shares it.
      if (through)
        throw new DatabaseError(
          "in-use",
          `embedded database ${through.displayUrl} is already served by another process (pid ${through.ownerPid}); run one server per embedded database, or use PostgreSQL (DATABASE_URL) for several`,
        );
      listener ??= new NotificationListener(
        () => postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {}, connection: { application_name: "endpoint-listener", ...settings } }),
        (channel, payload) => db.executeQuery(CompiledQuery.raw("select pg_notify($1, $2)", [channel, payload])),
      );
      return listener.listen({ channel, onMessage, onConnect, onLost });
    },
    async close() {
      await listener?.close();
      await db.destroy();
    },
  };
}

async function createPostgresDatabase(url: string, displayUrl: string): Promise<void> {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.slice(1));
  parsed.pathname = "/postgres";
  const admin = postgres(parsed.toString(), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await admin`create database ${admin(name)}`;
  } catch (error) {
    if (sqlState(error) !== "42P04") throw describePostgresFailure(error, displayUrl); // 42P04: created meanwhile
  } finally {
    await admin.end({ timeout: 1 });
  }
}

function describePostgresFailure(error: unknown, displayUrl: string): DatabaseError {
  const state = sqlState(error);
  if (state === "3D000")
    return new DatabaseError("missing", `database ${displayUrl} does not exist; create it with: bun run cli init-db`, { cause: error });
  if (state === "28P01" || state === "28000")
    return new DatabaseError("auth", `cannot sign in to database ${displayUrl}: authentication failed`, { cause: error });
  if (isConnectionFailure(error)) {
    const code = (error as { code: string }).code;
    const why = code === "ECONNREFUSED" ? "connection refused" : code === "ENOTFOUND" ? "host not found" : code === "CONNECT_TIMEOUT" ? "connection timed out" : "connection failed";
    return new DatabaseError("unreachable", `cannot connect to database ${displayUrl}: ${why}`, { cause: error });
  }
  return new DatabaseError("unreachable", `cannot use database ${displayUrl}: ${state ? `server error ${state}` : "unexpected failure"}`, { cause: error });
}

async function openPGlite(path: string, options: OpenOptions): Promise<DatabaseHandle> {
  const folder = resolve(path);
  const displayUrl = `pglite:${path}`;
  if (!existsSync(folder)) {
    if (!options.create)
      throw new DatabaseError("missing", `embedded database ${displayUrl} does not exist; create it with: bun run cli init-db`);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
  }
  const lock = lockFolder(folder, displayUrl);
  if (lock.sharedBy) {
    // dev-server holds the folder and serves it: use its socket with the ordinary driver.
    return openPostgres("postgres://postgres@localhost/postgres", options, { ...lock.sharedBy, displayUrl });
  }
  let pglite: PGlite;
  try {
    // int8 as a string, as postgres.js returns it, so rows look the same on both backends.
    pglite = await PGlite.create(folder, { parsers: { 20: (value: string) => value } });
  } catch (error) {
    lock.unlock();
    throw new DatabaseError("unreachable", `cannot open embedded database ${displayUrl}: it may be damaged or from another PGlite version`, { cause: error });
  }
  // Notifications arrive from this process's own queries (PGlite's listeners) and, when shared, from the socket
  // clients' (the socket server picks them out of their results): both reach the same callbacks.
  const listeners = new Map<string, Set<(payload: string) => void>>();
  const dispatch = (channel: string, payload: string) => {
    for (const onMessage of listeners.get(channel) ?? []) onMessage(payload);
  };
  let shared: Awaited<ReturnType<typeof shareDatabase>> | undefined;
  if (options.share) {
    try {
      shared = await shareDatabase(pglite, folder, dispatch);
      lock.record({ pid: process.pid, address: shared.address });
    } catch (error) {
      await pglite.close().catch(() => {});
      lock.unlock();
      throw new DatabaseError("unreachable", `cannot share embedded database ${displayUrl} on a local socket`, { cause: error });
    }
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    backend: "pglite",
    displayUrl,
    psqlCommand: shared?.psqlCommand,
    async listen(channel, onMessage, onConnect) {
      let channelListeners = listeners.get(channel);
      let unlistenPGlite: (() => Promise<void>) | undefined;
      if (!channelListeners) {
        listeners.set(channel, (channelListeners = new Set()));
        unlistenPGlite = await pglite.listen(channel, (payload) => dispatch(channel, payload));
      }
      channelListeners.add(onMessage);
      onConnect?.();
      return async () => {
        channelListeners.delete(onMessage);
        if (channelListeners.size === 0) listeners.delete(channel);
        await unlistenPGlite?.();
      };
    },
    async close() {
      try {
        await shared?.stop();
        await db.destroy();
      } finally {
        lock.unlock();
      }
    },
  };
}

/** What the lock file beside an embedded database's folder says: its owner, and where it shares the database. */
interface LockRecord {
  pid: number;
  address?: SharedAddress;
}

/**
 * PGlite keeps its files open in one process; a second process writing the same folder would corrupt it.
 * A lock file beside the folder names the owner (and the socket it serves the database on, if any), and a lock
 * left by a dead process is taken over. A live owner that shares the database is returned as `sharedBy`.
 */
function lockFolder(
  folder: string,
  displayUrl: string,
): { sharedBy?: { address: SharedAddress; ownerPid: number }; record(record: LockRecord): void; unlock(): void } {
  const lockFile = `${folder}.lock`;
  mkdirSync(dirname(lockFile), { recursive: true });
  const mine = {
    record: (record: LockRecord) => writeFileSync(lockFile, JSON.stringify(record), { mode: 0o600 }),
    unlock: () => rmSync(lockFile, { force: true }),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, "wx", 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid } satisfies LockRecord));
      closeSync(fd);
      return mine;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = readLock(lockFile);
      // A shared database is reached through its socket, from another process or (tests) from this one.
      if (owner?.address && isAlive(owner.pid)) return { sharedBy: { address: owner.address, ownerPid: owner.pid }, record() {}, unlock() {} };
      if (owner && isAlive(owner.pid) && owner.pid !== process.pid) {
        throw new DatabaseError(
          "in-use",
          `embedded database ${displayUrl} is in use by another process (pid ${owner.pid}); stop it first, or run the server with dev-server, which shares the database with the CLI`,
        );
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new DatabaseError("in-use", `embedded database ${displayUrl} is locked (${lockFile})`);
}

/** The lock's record: JSON now, a bare pid in files written by earlier versions. */
function readLock(lockFile: string): LockRecord | undefined {
  let text: string;
  try {
    text = readFileSync(lockFile, "utf8");
  } catch {
    return undefined;
  }
  if (/^\d+$/.test(text.trim())) return { pid: Number(text.trim()) };
  try {
    const record = JSON.parse(text) as LockRecord;
    return Number.isInteger(record.pid) ? record : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
