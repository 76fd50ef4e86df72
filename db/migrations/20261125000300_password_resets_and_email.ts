// One-time password-reset links and users' optional e-mail address. A link's token is never stored: only its
// SHA-256 hash, with when it expires, when it was used and who made it. E-mail addresses are unique without
// regard to case, like usernames. "Forgot password" requests are counted per address and per name typed, shared
// by every instance, apart from the sign-in failure counts (a request is not a wrong password).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").addColumn("email", "text").execute();
  await sql`create unique index users_email_lower_idx on users (lower(email))`.execute(db);

  await db.schema
    .createTable("password_resets")
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("used_at", "timestamptz")
    .addColumn("created_by", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("password_resets_user_id_idx").on("password_resets").column("user_id").execute();

  await db.schema
    .createTable("reset_request_throttle")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("requests", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("window_started_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("reset_request_throttle").execute();
  await db.schema.dropTable("password_resets").execute();
  await sql`drop index if exists users_email_lower_idx`.execute(db);
  await db.schema.alterTable("users").dropColumn("email").execute();
}
