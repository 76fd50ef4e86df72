// Login throttling: failures are counted per username and per client address in the database, so every
// instance shares the counts. Past the limit, logins from that address or for that name wait until the window
// ends (a soft lock), whether or not the password is right.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";

export const THROTTLE_WINDOW_SECONDS = 15 * 60;
export const MAX_FAILURES_PER_USERNAME = 10;
export const MAX_FAILURES_PER_ADDRESS = 10;

export const usernameKey = (username: string) => `user:${username.toLowerCase()}`;
export const addressKey = (address: string) => `address:${address}`;

/** Seconds until the caller may try again, or 0 when not throttled. */
export async function throttledFor(db: Kysely<Database>, username: string, address: string): Promise<number> {
  const rows = await db
    .selectFrom("login_throttle")
    .select([
      "key",
      "failures",
      sql<number>`ceil(extract(epoch from (window_started_at + make_interval(secs => ${THROTTLE_WINDOW_SECONDS}) - now())))::int`.as("remaining"),
    ])
    .where("key", "in", [usernameKey(username), addressKey(address)])
    .execute();
  let wait = 0;
  for (const row of rows) {
    const limit = row.key.startsWith("user:") ? MAX_FAILURES_PER_USERNAME : MAX_FAILURES_PER_ADDRESS;
    if (row.failures >= limit && row.remaining > 0) wait = Math.max(wait, row.remaining);
  }
  return wait;
}

/** Count one failed login against the name and the address (a new window once the old one is over). */
export async function recordFailure(db: Kysely<Database>, username: string, address: string): Promise<void> {
  for (const key of [usernameKey(username), addressKey(address)]) {
    await db
      .insertInto("login_throttle")
      .values({ key, failures: 1, window_started_at: sql`now()` })
      .onConflict((oc) =>
        oc.column("key").doUpdateSet({
          failures: sql`case when login_throttle.window_started_at < now() - make_interval(secs => ${THROTTLE_WINDOW_SECONDS}) then 1 else login_throttle.failures + 1 end`,
          window_started_at: sql`case when login_throttle.window_started_at < now() - make_interval(secs => ${THROTTLE_WINDOW_SECONDS}) then now() else login_throttle.window_started_at end`,
        }),
      )
      .execute();
  }
}

/** A successful login clears the username's count (not the address's: one good account must not reset it). */
export async function clearUsernameFailures(db: Kysely<Database>, username: string): Promise<void> {
  await db.deleteFrom("login_throttle").where("key", "=", usernameKey(username)).execute();
}

/** unlock-user: lift a lock-out on a username. Returns whether there was one to lift. */
export async function unlockUsername(db: Kysely<Database>, username: string): Promise<boolean> {
  const result = await db.deleteFrom("login_throttle").where("key", "=", usernameKey(username)).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
