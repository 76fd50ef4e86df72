// Accounts core, part 1: a token remembers the token that made it (revoked with it, deleted with it); sessions
// announce a new password confirmation (sudo mode) to every instance; jsonb values that PostgreSQL stored as JSON
// strings (double-encoded by postgres.js before db/open.ts passed JSON text through) become the objects they always meant to be.
import { type Kysely, sql } from "kysely";

/** jsonb columns written from JavaScript; a value stored as a string holding JSON text is repaired. */
const JSONB_COLUMNS: Array<[table: string, column: string]> = [
  ["audit_log", "detail"],
  ["events", "payload"],
];

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("api_tokens")
    .addColumn("parent_id", "uuid", (c) => c.references("api_tokens.id").onDelete("cascade"))
    .execute();
  await db.schema.createIndex("api_tokens_parent_id_idx").on("api_tokens").column("parent_id").execute();

  await sql`drop trigger if exists sessions_notify_auth on sessions`.execute(db);
  await sql`create trigger sessions_notify_auth after update of authenticated_at or delete on sessions
    for each row execute function endpoint_notify_auth('id_hash')`.execute(db);

  // Only strings whose text parses as a JSON object or array are the double-encoded ones; any other string (even
  // one that merely starts with "[", like "[warn] disk full") stays as it is. PostgreSQL 15 has no
  // pg_input_is_valid, so a helper catches the parse error.
  await sql`
    create function endpoint_json_text_or_null(value text) returns jsonb language plpgsql immutable as $$
    begin
      return value::jsonb;
    exception when others then
      return null;
    end $$`.execute(db);
  for (const [table, column] of JSONB_COLUMNS) {
    await sql`update ${sql.table(table)} set ${sql.ref(column)} = endpoint_json_text_or_null(${sql.ref(column)} #>> '{}')
      where jsonb_typeof(${sql.ref(column)}) = 'string' and left(${sql.ref(column)} #>> '{}', 1) in ('{', '[')
        and jsonb_typeof(endpoint_json_text_or_null(${sql.ref(column)} #>> '{}')) in ('object', 'array')`.execute(db);
  }
  await sql`drop function endpoint_json_text_or_null(text)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // The repaired jsonb values stay repaired: turning them back into strings would only bring the bug back.
  await sql`drop trigger if exists sessions_notify_auth on sessions`.execute(db);
  await sql`create trigger sessions_notify_auth after delete on sessions
    for each row execute function endpoint_notify_auth('id_hash')`.execute(db);
  await db.schema.dropIndex("api_tokens_parent_id_idx").execute();
  await db.schema.alterTable("api_tokens").dropColumn("parent_id").execute();
}
