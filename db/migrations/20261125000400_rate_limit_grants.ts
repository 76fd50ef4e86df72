// Rate limits shared by every instance: for each bucket (a route's policy and one token, user, address or the whole
// route) and window, how many requests the instances have been granted between them. An instance asks for a few
// permits at a time and answers from them in memory, so the row is written once per handful of requests, never per
// request; `granted` never exceeds the limit, which is what keeps N instances together within it. The bucket is a
// SHA-256 of route, policy and key: no address or token id is stored.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("rate_limit_grants")
    .addColumn("bucket", "text", (c) => c.notNull())
    .addColumn("window_start", "timestamptz", (c) => c.notNull())
    .addColumn("window_end", "timestamptz", (c) => c.notNull())
    .addColumn("granted", "integer", (c) => c.notNull().check(sql`granted >= 0`))
    .addColumn("last_grant", "integer", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("rate_limit_grants_pkey", ["bucket", "window_start"])
    .execute();
  await db.schema.createIndex("rate_limit_grants_window_end_idx").on("rate_limit_grants").column("window_end").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("rate_limit_grants").execute();
}
