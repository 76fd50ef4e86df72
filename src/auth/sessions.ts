// Browser sessions: a random 256-bit id in the cookie, only its SHA-256 in the database, a CSRF token per
// session, idle and absolute timeouts.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";

export interface NewSession {
  /** Goes in the cookie, and nowhere else. */
  cookieValue: string;
  idHash: string;
  csrfToken: string;
}

const randomToken = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");

/** SHA-256 hex of a session id: what the database stores and the cache is keyed by. */
export function hashSessionId(cookieValue: string): string {
  return new Bun.CryptoHasher("sha256").update(cookieValue).digest("hex");
}

/** Session ids are 43 base64url characters; anything else is not ours and needs no lookup. */
export const looksLikeSessionId = (value: string) => /^[A-Za-z0-9_-]{43}$/.test(value);

export async function createSession(
  db: Kysely<Database>,
  userId: string,
  meta: { clientAddress?: string | null; userAgent?: string | null },
): Promise<NewSession> {
  const cookieValue = randomToken(32);
  const session = { cookieValue, idHash: hashSessionId(cookieValue), csrfToken: randomToken(32) };
  await db
    .insertInto("sessions")
    .values({
      id_hash: session.idHash,
      user_id: userId,
      csrf_token: session.csrfToken,
      client_address: meta.clientAddress ?? null,
      user_agent: meta.userAgent?.slice(0, 256) ?? null,
    })
    .execute();
  return session;
}

export async function deleteSession(db: Kysely<Database>, idHash: string): Promise<void> {
  await db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
}

/** Sign out everywhere: every session of the user ends. */
export async function deleteUserSessions(db: Kysely<Database>, userId: string): Promise<number> {
  const result = await db.deleteFrom("sessions").where("user_id", "=", userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export interface SessionRecord {
  idHash: string;
  userId: string;
  csrfToken: string;
  createdAt: number; // epoch ms
  lastSeenAt: number;
  authenticatedAt: number;
}

/** The session row, or null; expiry is the caller's to judge (the cache keeps the record). */
export async function loadSession(db: Kysely<Database>, idHash: string): Promise<SessionRecord | null> {
  const row = await db
    .selectFrom("sessions")
    .select(["id_hash", "user_id", "csrf_token", "created_at", "last_seen_at", "authenticated_at"])
    .where("id_hash", "=", idHash)
    .executeTakeFirst();
  if (!row) return null;
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    csrfToken: row.csrf_token,
    createdAt: row.created_at.getTime(),
    lastSeenAt: row.last_seen_at.getTime(),
    authenticatedAt: row.authenticated_at.getTime(),
  };
}

/** The user just typed their password again (sudo mode): the session counts as freshly authenticated. */
export async function markSessionAuthenticated(db: Kysely<Database>, idHash: string): Promise<void> {
  await db.updateTable("sessions").set({ authenticated_at: sql`now()` }).where("id_hash", "=", idHash).execute();
}

/** Record activity for many sessions in one statement (the write-behind flush). */
export async function touchSessions(db: Kysely<Database>, idHashes: string[]): Promise<void> {
  if (idHashes.length === 0) return;
  await db.updateTable("sessions").set({ last_seen_at: sql`now()` }).where("id_hash", "in", idHashes).execute();
}

/** Remove sessions past their idle or absolute limit (housekeeping; the guard refuses them anyway). */
export async function deleteExpiredSessions(db: Kysely<Database>, idleSeconds: number, absoluteSeconds: number): Promise<void> {
  await db
    .deleteFrom("sessions")
    .where((eb) =>
      eb.or([
        eb("last_seen_at", "<", sql<Date>`now() - make_interval(secs => ${idleSeconds})`),
        eb("created_at", "<", sql<Date>`now() - make_interval(secs => ${absoluteSeconds})`),
      ]),
    )
    .execute();
}
