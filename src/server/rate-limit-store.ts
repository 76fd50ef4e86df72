// The rate limits' shared ledger in the database (table rate_limit_grants): permits handed out per bucket and
// window, all instances together. Each statement is one atomic row update, so two instances asking at once never
// get more than the limit between them. Only the rate limiter calls these, a few times per window per bucket.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";

export interface Grant {
  /** Permits this request received (0: the window's limit is handed out). */
  got: number;
  /** Permits handed out in this window so far, by every instance, this grant included. */
  granted: number;
}

/** Ask for `want` permits of `bucket`'s window; receive as many as the limit still allows. */
export async function reservePermits(
  db: Kysely<Database>,
  bucket: string,
  windowStart: Date,
  windowEnd: Date,
  want: number,
  limit: number,
): Promise<Grant> {
  // In ON CONFLICT's SET every column reference is the row as it was, so `last_grant` is exactly what was added.
  const available = sql<number>`greatest(0, least(${want}::integer, ${limit}::integer - rate_limit_grants.granted))`;
  const row = await db
    .insertInto("rate_limit_grants")
    .values({ bucket, window_start: windowStart, window_end: windowEnd, granted: Math.min(want, limit), last_grant: Math.min(want, limit) })
    .onConflict((conflict) =>
      conflict.columns(["bucket", "window_start"]).doUpdateSet({ granted: sql`rate_limit_grants.granted + ${available}`, last_grant: available }),
    )
    .returning(["granted", "last_grant"])
    .executeTakeFirstOrThrow();
  return { got: Number(row.last_grant), granted: Number(row.granted) };
}

/** Hand back permits an instance holds but will not use (its callers went quiet), for the other instances. */
export async function returnPermits(db: Kysely<Database>, bucket: string, windowStart: Date, count: number): Promise<void> {
  await db
    .updateTable("rate_limit_grants")
    .set({ granted: sql`greatest(0, granted - ${count}::integer)` })
    .where("bucket", "=", bucket)
    .where("window_start", "=", windowStart)
    .execute();
}

/** Forget windows that ended more than a minute ago. */
export async function deleteEndedWindows(db: Kysely<Database>): Promise<number> {
  const result = await db.deleteFrom("rate_limit_grants").where("window_end", "<", sql<Date>`now() - interval '1 minute'`).executeTakeFirst();
  return Number(result.numDeletedRows);
}
