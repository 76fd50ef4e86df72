// Browser sessions, API token records and the shared login-failure counters.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("csrf_token", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("last_seen_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("authenticated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("client_address", "text")
    .addColumn("user_agent", "text")
    .execute();
  await db.schema.createIndex("sessions_user_id_idx").on("sessions").column("user_id").execute();

  await db.schema
    .createTable("api_tokens")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("routes", sql`text[]`)
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("last_used_at", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .execute();
  await db.schema.createIndex("api_tokens_user_id_idx").on("api_tokens").column("user_id").execute();

  await db.schema
    .createTable("login_throttle")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("failures", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("window_started_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("locked_until", "timestamptz")
    .execute();

  // Every instance keeps sessions, tokens and memberships in a cache; these triggers tell all of them
  // (LISTEN endpoint_auth) when a row they may have cached changed, whoever changed it: server, CLI or psql.
  await sql`
    create function endpoint_notify_auth() returns trigger language plpgsql as $$
    declare
      changed jsonb := case when tg_op = 'DELETE' then to_jsonb(old) else to_jsonb(new) end;
    begin
      perform pg_notify('endpoint_auth', tg_table_name || ':' || (changed ->> tg_argv[0]));
      return null;
    end $$`.execute(db);
  const triggers: Array<[table: string, events: string, key: string]> = [
    ["users", "update of username, password_hash, disabled or delete", "id"],
    ["groups", "update of name or delete", "id"],
    ["group_members", "insert or delete", "user_id"],
    ["sessions", "delete", "id_hash"],
    ["api_tokens", "update of revoked_at, expires_at, routes or delete", "id"],
  ];
  for (const [table, events, key] of triggers) {
    await sql`create trigger ${sql.id(`${table}_notify_auth`)} after ${sql.raw(events)} on ${sql.table(table)}
      for each row execute function endpoint_notify_auth(${sql.lit(key)})`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["users", "groups", "group_members", "sessions", "api_tokens"]) {
    await sql`drop trigger if exists ${sql.id(`${table}_notify_auth`)} on ${sql.table(table)}`.execute(db);
  }
  await sql`drop function if exists endpoint_notify_auth()`.execute(db);
  await db.schema.dropTable("login_throttle").execute();
  await db.schema.dropTable("api_tokens").execute();
  await db.schema.dropTable("sessions").execute();
}
