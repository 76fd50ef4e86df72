// A Kysely dialect over postgres.js: Kysely builds the SQL, postgres.js runs it on a reserved connection.
// Kysely ships no postgres.js dialect; this is the whole of one (the query compiler and adapter are Kysely's own).
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
import type { ReservedSql, Sql } from "postgres";

export class PostgresJsDialect implements Dialect {
  constructor(private readonly sql: Sql) {}
  createAdapter(): DialectAdapter {
    return new PostgresAdapter(); // brings the advisory-lock migration lock
  }
  createDriver(): Driver {
    return new PostgresJsDriver(this.sql);
  }
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}

class PostgresJsDriver implements Driver {
  constructor(private readonly sql: Sql) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PostgresJsConnection(await this.sql.reserve());
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
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
    await this.sql.end({ timeout: 5 });
  }
}

const COMMANDS_WITH_ROW_COUNT = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

class PostgresJsConnection implements DatabaseConnection {
  constructor(private readonly reserved: ReservedSql) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.reserved.unsafe(compiled.sql, compiled.parameters.slice() as any[]);
    const rows = Array.from(result.values()) as R[];
    return COMMANDS_WITH_ROW_COUNT.has(result.command)
      ? { rows, numAffectedRows: BigInt(result.count) }
      : { rows };
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    const cursor = this.reserved.unsafe(compiled.sql, compiled.parameters.slice() as any[]).cursor(chunkSize);
    for await (const rows of cursor) yield { rows: rows as R[] };
  }

  release(): void {
    this.reserved.release();
  }
}
