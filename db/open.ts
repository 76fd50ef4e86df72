// The one factory that opens Endpoint's database: PostgreSQL through postgres.js for a postgres:// URL, embedded
// PGlite on disk otherwise. Everything above db/ gets a Kysely instance and never learns which it got.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect } from "kysely";
import postgres from "postgres";
import { DatabaseError, isConnectionFailure, sqlState } from "./errors.ts";
import { PostgresJsDialect } from "./postgres-js-dialect.ts";
import type { Database } from "./schema.ts";

/** Where the embedded database lives when no URL is given. */
export const DEFAULT_PGLITE_PATH = "data/pglite";

export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "pglite"; path: string };

export interface DatabaseHandle {
  db: Kysely<Database>;
  backend: DatabaseTarget["kind"];
  /** The URL as a person may see it: any password replaced by `***`. */
  displayUrl: string;
  /**
   * Run `onMessage` for each NOTIFY on `channel`. `onConnect` runs each time the listener (re)connects: a
   * reconnect means notifications may have been missed, so callers drop what they cached.
   */
  listen(channel: string, onMessage: (payload: string) => void, onConnect?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Create the PostgreSQL database (init-db) or the PGlite folder when missing. */
  create?: boolean;
  /** Server-side limit on any one statement; 0 = none (migrations). */
  statementTimeoutMs?: number;
  /** Connection pool size for PostgreSQL. */
  poolSize?: number;
  /** Client-side deadline for a query or for a pooled connection (PostgreSQL); 0 = none. */
  queryTimeoutMs?: number;
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

async function openPostgres(url: string, options: OpenOptions): Promise<DatabaseHandle> {
  const displayUrl = redactUrl(url);
  const connect = () =>
    postgres(url, {
      max: options.poolSize ?? 10,
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
      connection: {
        application_name: "endpoint",
        statement_timeout: options.statementTimeoutMs ?? 10_000,
        idle_in_transaction_session_timeout: 30_000,
      } as Record<string, string | number>,
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
  const db = new Kysely<Database>({ dialect: new PostgresJsDialect(connect, sql, { queryTimeoutMs: options.queryTimeoutMs ?? 0 }) });
  // Notifications get a connection of their own, apart from the query pool (which may be replaced).
  let listener: ReturnType<typeof postgres> | undefined;
  return {
    db,
    backend: "postgres",
    displayUrl,
    async listen(channel, onMessage, onConnect) {
      listener ??= postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {}, connection: { application_name: "endpoint-listener" } });
      const { unlisten } = await listener.listen(channel, onMessage, onConnect);
      return unlisten;
    },
    async close() {
      await listener?.end({ timeout: 1 }).catch(() => {});
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
  const unlock = lockFolder(folder, displayUrl);
  let pglite: PGlite;
  try {
    // int8 as a string, as postgres.js returns it, so rows look the same on both backends.
    pglite = await PGlite.create(folder, { parsers: { 20: (value: string) => value } });
  } catch (error) {
    unlock();
    throw new DatabaseError("unreachable", `cannot open embedded database ${displayUrl}: it may be damaged or from another PGlite version`, { cause: error });
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    backend: "pglite",
    displayUrl,
    async listen(channel, onMessage, onConnect) {
      const unlisten = await pglite.listen(channel, onMessage);
      onConnect?.();
      return () => unlisten();
    },
    async close() {
      try {
        await db.destroy();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * PGlite keeps its files open in one process; a second process writing the same folder would corrupt it.
 * A lock file beside the folder names the owner, and a lock left by a dead process is taken over.
 */
function lockFolder(folder: string, displayUrl: string): () => void {
  const lockFile = `${folder}.lock`;
  mkdirSync(dirname(lockFile), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number.parseInt(readFileSync(lockFile, "utf8"), 10);
      if (isAlive(owner) && owner !== process.pid)
        throw new DatabaseError(
          "in-use",
          `embedded database ${displayUrl} is in use by another process (pid ${owner}); stop it first, or use PostgreSQL (DATABASE_URL) to run the server and the CLI side by side`,
        );
      rmSync(lockFile, { force: true });
    }
  }
  throw new DatabaseError("in-use", `embedded database ${displayUrl} is locked (${lockFile})`);
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
