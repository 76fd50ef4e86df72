// Password throttling: attempts are counted per username and per client address in the database, so every
// instance shares the counts. Each attempt is *reserved* before any password is hashed, by one statement that
// increments both counters and returns them, so N concurrent guesses count as N. Past the limit, attempts for that
// name or from that address are refused until the window ends (a soft lock), whether or not the password is right.
// Sign-in, the account page's current-password check and sudo confirmations all count here. A lock-out is audited
// as user.lockout or address.lockout (actor `throttle`) when it starts.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import { type Actor, recordAudit } from "../accounts/audit.ts";

export const THROTTLE_WINDOW_SECONDS = 15 * 60;
export const MAX_FAILURES_PER_USERNAME = 10;
export const MAX_FAILURES_PER_ADDRESS = 10;

export const usernameKey = (username: string) => `user:${username.toLowerCase()}`;
export const addressKey = (address: string) => `address:${address}`;
const limitOf = (key: string) => (key.startsWith("user:") ? MAX_FAILURES_PER_USERNAME : MAX_FAILURES_PER_ADDRESS);

const windowOver = sql<boolean>`login_throttle.window_started_at < now() - make_interval(secs => ${THROTTLE_WINDOW_SECONDS})`;
const remainingSeconds = sql<number>`greatest(0, ceil(extract(epoch from (window_started_at + make_interval(secs => ${THROTTLE_WINDOW_SECONDS}) - now())))::int)`;

export interface Reservation {
  allowed: boolean;
  /** When refused: seconds until the window ends. */
  retryAfterSeconds: number;
}

/**
 * Reserve one password attempt for `username` from `address`. Refused (without hashing anything) when either
 * counter is past its limit. A right password gives the reservation back with `attemptSucceeded`.
 */
export async function reserveAttempt(db: Kysely<Database>, username: string, address: string): Promise<Reservation> {
  const rows = await db
    .insertInto("login_throttle")
    .values([
      { key: usernameKey(username), failures: 1, window_started_at: sql`now()` },
      { key: addressKey(address), failures: 1, window_started_at: sql`now()` },
    ])
    .onConflict((oc) =>
      oc.column("key").doUpdateSet({
        failures: sql`case when ${windowOver} then 1 else login_throttle.failures + 1 end`,
        window_started_at: sql`case when ${windowOver} then now() else login_throttle.window_started_at end`,
      }),
    )
    .returning(["key", "failures", remainingSeconds.as("remaining")])
    .execute();
  let retryAfterSeconds = 0;
  for (const row of rows) if (row.failures > limitOf(row.key)) retryAfterSeconds = Math.max(retryAfterSeconds, row.remaining, 1);
  // The first refused attempt of a window starts a lock-out: audited (and so logged as a security event) once,
  // by the one statement whose count crossed the limit, however many guesses arrive at once.
  for (const row of rows)
    if (row.failures === limitOf(row.key) + 1) {
      const [kind, ...rest] = row.key.split(":");
      await recordAudit(db, { name: "throttle", source: "web", clientAddress: address, recentlyAuthenticated: false }, `${kind}.lockout`, rest.join(":"), {
        failures: limitOf(row.key),
        retry_after_seconds: Math.max(row.remaining, 1),
      });
    }
  return { allowed: retryAfterSeconds === 0, retryAfterSeconds };
}

/**
 * The password was right: the username's count is cleared and this attempt no longer counts against the address
 * (its earlier failures still do: one good account must not reset an address guessing at others).
 */
export async function attemptSucceeded(db: Kysely<Database>, username: string, address: string): Promise<void> {
  await db.deleteFrom("login_throttle").where("key", "=", usernameKey(username)).execute();
  await db
    .updateTable("login_throttle")
    .set({ failures: sql`greatest(failures - 1, 0)` })
    .where("key", "=", addressKey(address))
    .execute();
}

/** unlock-user: lift a lock-out on a username (audited as user.unlock). Returns whether there was a count to clear. */
export async function unlockUsername(db: Kysely<Database>, actor: Actor, username: string): Promise<boolean> {
  return unlock(db, actor, usernameKey(username), "user.unlock", username.toLowerCase());
}

/** unlock-address: lift a lock-out on a client address (audited as address.unlock). */
export async function unlockAddress(db: Kysely<Database>, actor: Actor, address: string): Promise<boolean> {
  return unlock(db, actor, addressKey(address), "address.unlock", address);
}

async function unlock(db: Kysely<Database>, actor: Actor, key: string, action: string, target: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const result = await trx.deleteFrom("login_throttle").where("key", "=", key).executeTakeFirst();
    const lifted = result.numDeletedRows > 0n;
    await recordAudit(trx, actor, action, target, { lifted });
    return lifted;
  });
}

export interface Lockout {
  kind: "user" | "address";
  /** The lower-cased username or the address. */
  subject: string;
  failures: number;
  retry_after_seconds: number;
}

/** Usernames and addresses locked out right now, longest wait first. */
export async function listLockouts(db: Kysely<Database>): Promise<Lockout[]> {
  const rows = await db
    .selectFrom("login_throttle")
    .select(["key", "failures", remainingSeconds.as("remaining")])
    .where("window_started_at", ">", sql<Date>`now() - make_interval(secs => ${THROTTLE_WINDOW_SECONDS})`)
    .orderBy("window_started_at")
    .execute();
  return rows
    .filter((row) => row.failures >= limitOf(row.key) && row.remaining > 0)
    .map((row) => {
      const [kind, ...rest] = row.key.split(":");
      return { kind: kind === "user" ? "user" : "address", subject: rest.join(":"), failures: row.failures, retry_after_seconds: row.remaining } as Lockout;
    });
}

/**
 * A right password that still needs a code gives its attempt back without clearing the username's count: only a
 * right code does that (attemptSucceeded), so knowing the password does not reset the count of code guesses.
 */
export async function giveBackAttempt(db: Kysely<Database>, username: string, address: string): Promise<void> {
  await db
    .updateTable("login_throttle")
    .set({ failures: sql`greatest(failures - 1, 0)` })
    .where("key", "in", [usernameKey(username), addressKey(address)])
    .execute();
}

/**
 * Judge a reserved attempt with `verify`. An attempt that could not be judged — the password pool busy (503), the
 * database lost — is given back: only a wrong password may count towards a lock-out.
 */
export async function judgeAttempt(db: Kysely<Database>, username: string, address: string, verify: () => Promise<boolean>): Promise<boolean> {
  try {
    return await verify();
  } catch (error) {
    await giveBackAttempt(db, username, address).catch(() => {});
    throw error;
  }
}
