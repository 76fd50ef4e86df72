// A Kysely dialect over postgres.js: Kysely builds the SQL, postgres.js runs it. Kysely ships no postgres.js
// dialect; this is the whole of one (the query compiler and adapter are Kysely's own).
//
// A single query runs on the pool directly; only a transaction reserves a connection (reserving one per query
// costs a round of pool bookkeeping on every request). So `db.connection()` does not pin a session here: use a
// transaction for anything that needs one connection.
//
// Every query has a deadline: postgres.js has no client-side timeout, and a hung server (or a full pool) would
// otherwise hold a request forever. Past the deadline the query is cancelled and fails as a connection failure,
// and the pool is replaced: connections caught in a server restart can hang in start-up for good (postgres.js
// #1193), and a pool of them would keep every later query waiting. The statements still running on the old pool
// are cancelled too: their requests give up with it, and the server would otherwise run them to the end.
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from "kysely";
import type { PendingQuery, ReservedSql, Row, Sql } from "postgres";
import { sqlState } from "./errors.ts";

export interface PostgresJsDialectOptions {
  /** Longest a query (or the wait for a pooled connection) may take; 0 = no limit. */
  queryTimeoutMs?: number;
  /** Counted as connections are wanted and given back (for /metrics); plain additions, read only when scraped. */
  usage?: PoolDemand;
}

/**
 * What the pool is asked for right now: statements outside transactions (each needs a connection of its own, as
 * max_pipeline is 0), connections reserved for transactions, and reservations not yet granted. With the pool's
 * size this gives the connections in use and the wants waiting (poolUsage).
 */
export interface PoolDemand {
  statements: number;
  reserved: number;
  reserving: number;
}

export interface PoolUsage {
  size: number;
  inUse: number;
  waiting: number;
}

export function poolUsage(demand: PoolDemand, size: number): PoolUsage {
  const wanted = demand.statements + demand.reserved + demand.reserving;
  const inUse = Math.min(size, wanted);
  return { size, inUse, waiting: wanted - inUse };
}

export class PostgresJsDialect implements Dialect {
  /** `connect` makes a pool; `first` is the pool to start with (already known to work). */
  constructor(
    private readonly connect: () => Sql,
    private readonly first: Sql,
    private readonly options: PostgresJsDialectOptions = {},
  ) {}
  createAdapter(): DialectAdapter {
    return new PostgresAdapter(); // brings the advisory-lock migration lock
  }
  createDriver(): Driver {
    return new PostgresJsDriver(this.connect, this.first, this.options.queryTimeoutMs ?? 0, this.options.usage ?? { statements: 0, reserved: 0, reserving: 0 });
  }
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}

/** Thrown when a query passes its deadline; `code` marks it as a connection failure (503, not 500). */
export class QueryTimeoutError extends Error {
  readonly code = "QUERY_TIMEOUT";
  constructor(ms: number, options?: { cause?: unknown }) {
    super(`query did not finish within ${ms} ms`, options);
    this.name = "QueryTimeoutError";
  }
}

/**
 * Ask the server to stop `query` (or drop it from the pool's queue if it was never sent). postgres.js's own
 * `query.cancel()` drops the promise of its cancel request, so a refused one (the server gone meanwhile) would be
 * an unhandled rejection, which ends a Bun process; this keeps that promise and ignores its failure.
 */
function cancelQuery(query: PendingQuery<Row[]>): void {
  const internal = query as unknown as { canceller?: ((query: unknown) => Promise<void>) | null };
  if (typeof internal.canceller !== "function") return void query.cancel(); // another postgres.js: its own way
  const cancelled = internal.canceller(query);
  internal.canceller = null; // as query.cancel() does: once only
  void Promise.resolve(cancelled).catch(() => {});
}

function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  if (ms <= 0) return work;
  let timer: ReturnType<typeof setTimeout>;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new QueryTimeoutError(ms));
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

class PostgresJsDriver implements Driver {
  #sql: Sql;
  #replacedAt = 0;
  /** Queries queued or running on the current pool: cancelled when it is replaced. */
  #running = new Set<PendingQuery<Row[]>>();

  constructor(
    private readonly connect: () => Sql,
    first: Sql,
    private readonly timeoutMs: number,
    readonly usage: PoolDemand,
  ) {
    this.#sql = first;
  }

  get sql(): Sql {
    return this.#sql;
  }

  /** Note a query on the current pool until it settles; returns the function that forgets it. */
  track(query: PendingQuery<Row[]>): () => void {
    const running = this.#running;
    running.add(query);
    return () => running.delete(query);
  }

  /**
   * Swap in a fresh pool (at most once a second) and drop the old one's connections. Its queries fail with it (a
   * 503), so they are cancelled first: ending a connection only queues a Terminate behind its running statement,
   * which the server would otherwise finish.
   */
  replacePool(): void {
    if (Date.now() - this.#replacedAt < 1000) return;
    this.#replacedAt = Date.now();
    const old = this.#sql;
    const abandoned = this.#running;
    this.#sql = this.connect();
    this.#running = new Set();
    for (const query of abandoned) cancelQuery(query);
    void old.end({ timeout: 0 }).catch(() => {});
  }

  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PostgresJsConnection(this, this.timeoutMs);
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await (connection as PostgresJsConnection).reserve();
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : "";
    const access = settings.accessMode ? ` ${settings.accessMode}` : "";
    await connection.executeQuery(CompiledQuery.raw(`begin${isolation}${access}`));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PostgresJsConnection).release();
  }
  async destroy(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}

const COMMANDS_WITH_ROW_COUNT = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

class PostgresJsConnection implements DatabaseConnection {
  #reserved: ReservedSql | undefined;

  constructor(
    private readonly driver: PostgresJsDriver,
    private readonly timeoutMs: number,
  ) {}

  async reserve(): Promise<void> {
    if (this.#reserved) return;
    let gaveUp = false;
    const usage = this.driver.usage;
    const reserving = this.driver.sql.reserve();
    usage.reserving++;
    // A connection handed over after the deadline has nobody to release it: give it back to the pool.
    void reserving.then((late) => gaveUp && late.release(), () => {}).finally(() => usage.reserving--);
    this.#reserved = await this.#deadline(reserving, () => (gaveUp = true));
    usage.reserved++;
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const query: PendingQuery<Row[]> = (this.#reserved ?? this.driver.sql).unsafe(compiled.sql, compiled.parameters.slice() as any[]);
    const forget = this.driver.track(query);
    const usage = this.#reserved ? null : this.driver.usage; // a transaction's statements use its reserved connection
    if (usage) usage.statements++;
    try {
      const result = await this.#deadline(query.execute(), () => cancelQuery(query));
      const rows = Array.from(result.values()) as R[];
      return COMMANDS_WITH_ROW_COUNT.has(result.command) ? { rows, numAffectedRows: BigInt(result.count) } : { rows };
    } catch (error) {
      // 57014: the server's statement_timeout or a cancel (ours, or pg_cancel_backend); either way the query ran
      // out of time, which is a 503 like the deadline's, not a bug.
      if (this.timeoutMs > 0 && sqlState(error) === "57014") throw new QueryTimeoutError(this.timeoutMs, { cause: error });
      throw error;
    } finally {
      forget();
      if (usage) usage.statements--;
    }
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    const cursor = (this.#reserved ?? this.driver.sql).unsafe(compiled.sql, compiled.parameters.slice() as any[]).cursor(chunkSize);
    for await (const rows of cursor) yield { rows: rows as R[] };
  }

  release(): void {
    if (this.#reserved) this.driver.usage.reserved--;
    this.#reserved?.release();
    this.#reserved = undefined;
  }

  #deadline<T>(work: Promise<T>, cancel: () => void): Promise<T> {
    return withDeadline(work, this.timeoutMs, () => {
      cancel();
      this.driver.replacePool();
    });
  }
}
