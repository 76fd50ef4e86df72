// The state between a right password and a session, for users with two-step sign-in (or who must enrol): a
// random id in a short-lived cookie bound to this browser (Path=/login, HttpOnly, SameSite=Strict), only its
// SHA-256 in mfa_challenges. It grants nothing but the right to answer the second step; it ends when that step
// succeeds, after CHALLENGE_SECONDS, or at `mfa reset`.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { Config } from "../config/schema.ts";

export const MFA_CHALLENGE_COOKIE = "endpoint_mfa";
export const CHALLENGE_SECONDS = 5 * 60;

export interface Challenge {
  idHash: string;
  purpose: "verify" | "enrol";
  next: string;
  user: { id: string; username: string; disabled: boolean };
}

const hashChallengeId = (value: string) => new Bun.CryptoHasher("sha256").update(value).digest("hex");

/** Start a second step for `userId`; returns the cookie value (and nothing else holds it). */
export async function createChallenge(db: Kysely<Database>, userId: string, purpose: Challenge["purpose"], next: string): Promise<string> {
  const value = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  // A user's older pending sign-ins end: only the newest password entry may be answered.
  await db.deleteFrom("mfa_challenges").where((eb) => eb.or([eb("user_id", "=", userId), eb("expires_at", "<", sql<Date>`now()`)])).execute();
  await db
    .insertInto("mfa_challenges")
    .values({ id_hash: hashChallengeId(value), user_id: userId, purpose, next, expires_at: sql`now() + make_interval(secs => ${CHALLENGE_SECONDS})` })
    .execute();
  return value;
}

/** The pending second step this cookie value names, while it lasts; null otherwise. */
export async function loadChallenge(db: Kysely<Database>, value: string | null | undefined): Promise<Challenge | null> {
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) return null;
  const row = await db
    .selectFrom("mfa_challenges")
    .innerJoin("users", "users.id", "mfa_challenges.user_id")
    .select(["mfa_challenges.id_hash", "mfa_challenges.purpose", "mfa_challenges.next", "users.id", "users.username", "users.disabled"])
    .where("mfa_challenges.id_hash", "=", hashChallengeId(value))
    .where("mfa_challenges.expires_at", ">", sql<Date>`now()`)
    .executeTakeFirst();
  if (!row) return null;
  return { idHash: row.id_hash, purpose: row.purpose === "enrol" ? "enrol" : "verify", next: row.next, user: { id: row.id, username: row.username, disabled: row.disabled } };
}

/** End a pending second step; true when this call ended it (so two racing answers make one session). */
export async function endChallenge(db: Kysely<Database>, idHash: string): Promise<boolean> {
  const result = await db.deleteFrom("mfa_challenges").where("id_hash", "=", idHash).executeTakeFirst();
  return result.numDeletedRows === 1n;
}

export function challengeCookie(config: Config, value: string): string {
  return [`${MFA_CHALLENGE_COOKIE}=${value}`, "Path=/login", `Max-Age=${CHALLENGE_SECONDS}`, "HttpOnly", "SameSite=Strict", ...(config.auth.cookieSecure ? ["Secure"] : [])].join("; ");
}

export function expiredChallengeCookie(config: Config): string {
  return [`${MFA_CHALLENGE_COOKIE}=`, "Path=/login", "Max-Age=0", "HttpOnly", "SameSite=Strict", ...(config.auth.cookieSecure ? ["Secure"] : [])].join("; ");
}

