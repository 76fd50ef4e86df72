// Browser sessions: a random 256-bit id in the cookie, only its SHA-256 in the database, a CSRF token per
// session, idle and absolute timeouts; and the user's own view of them (list, end one, end all).
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import { type Actor, recordAudit } from "../accounts/audit.ts";
import { EndpointError } from "../errors.ts";

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

// A session is named in pages and forms by a handle: the first 16 hex digits (64 bits) of its hash. Never the id
// (the credential), nor the whole hash (the key the table, the cache and the NOTIFY payloads look sessions up by):
// a page can end up in a screenshot or the browser's cache, and nothing should be able to look a session up from
// it. Every query that takes a handle also takes the owner's user id, so the handle needs no secrecy: a handle of
// someone else's session finds nothing (404), and 64 bits never collide among one user's few sessions.
const HANDLE_HEX_DIGITS = 16;
const HANDLE_PATTERN = /^[0-9a-f]{16}$/;

/** The handle that names a session in pages and forms (see above). */
export const sessionHandle = (idHash: string) => idHash.slice(0, HANDLE_HEX_DIGITS);

const sessionNotFound = () => new EndpointError("session_not_found", 404, "that session does not exist or has already ended");

/** A session as its owner sees it on the account page. */
export interface SessionSummary {
  handle: string;
  createdAt: Date;
  lastSeenAt: Date;
  clientAddress: string | null;
  userAgent: string | null;
  /** The session this request came with. */
  current: boolean;
}

/** The user's sessions still within their idle and absolute limits: the current one first, then the most recently seen. */
export async function listUserSessions(
  db: Kysely<Database>,
  userId: string,
  options: { currentIdHash?: string; idleSeconds: number; absoluteSeconds: number },
): Promise<SessionSummary[]> {
  const rows = await db
    .selectFrom("sessions")
    .select(["id_hash", "created_at", "last_seen_at", "client_address", "user_agent"])
    .where("user_id", "=", userId)
    .where("last_seen_at", ">=", sql<Date>`now() - make_interval(secs => ${options.idleSeconds})`)
    .where("created_at", ">=", sql<Date>`now() - make_interval(secs => ${options.absoluteSeconds})`)
    .orderBy("last_seen_at", "desc")
    .orderBy("created_at", "desc")
    .execute();
  const sessions = rows.map((row) => ({
    handle: sessionHandle(row.id_hash),
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    clientAddress: row.client_address,
    userAgent: row.user_agent,
    current: row.id_hash === options.currentIdHash,
  }));
  return sessions.sort((a, b) => Number(b.current) - Number(a.current));
}

/**
 * End one of `owner`'s sessions, named by its handle; returns the hashes ended (for the cache). A handle of no
 * session of theirs is 404, whoever's it is. Audited as session.end.
 */
export async function endSession(db: Kysely<Database>, actor: Actor, owner: { id: string; username: string }, handle: string): Promise<string[]> {
  if (!HANDLE_PATTERN.test(handle)) throw sessionNotFound();
  return db.transaction().execute(async (trx) => {
    const ended = await trx
      .deleteFrom("sessions")
      .where("user_id", "=", owner.id)
      .where("id_hash", "like", `${handle}%`) // hex digits only: nothing LIKE would read as a wildcard
      .returning("id_hash")
      .execute();
    if (ended.length === 0) throw sessionNotFound();
    await recordAudit(trx, actor, "session.end", owner.username, { session: handle });
    return ended.map((row) => row.id_hash);
  });
}

/** Sign out everywhere: every session of `owner` ends, this one included; returns their hashes. Audited as session.end_all. */
export async function endUserSessions(db: Kysely<Database>, actor: Actor, owner: { id: string; username: string }): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    const ended = await trx.deleteFrom("sessions").where("user_id", "=", owner.id).returning("id_hash").execute();
    await recordAudit(trx, actor, "session.end_all", owner.username, { sessions_ended: ended.length });
    return ended.map((row) => row.id_hash);
  });
}

export interface SessionRecord {
  idHash: string;
  userId: string;
  csrfToken: string;
  // Epoch ms, all three written by the database's now(): judge them against its clock (DatabaseClock), not Date.now().
  createdAt: number;
  lastSeenAt: number;
  authenticatedAt: number;
}

/** The session row, or null; expiry is the caller's to judge, in database time (the cache keeps the record). */
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
