// One-time password-reset links: made by the CLI, the admin user page or the "forgot password" form, used once on
// /login/reset to set a new password. The link holds 256 random bits; only their SHA-256 hash is stored. A link
// expires, works once, and is audited when made and when used; using it ends the user's sessions and tokens.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import { EndpointError } from "../errors.ts";
import { requireRecentAuthentication } from "./sudo.ts";
import { type Actor, recordAudit } from "./audit.ts";
import { checkPasswordPolicy, hashPassword } from "./passwords.ts";
import { replacePassword, requireUser } from "./users.ts";

export const RESET_PATH = "/login/reset";
export const DEFAULT_RESET_EXPIRY_SECONDS = 3600;
/** A week: a reset link is a password in transit, not something to keep. */
export const MAX_RESET_EXPIRY_SECONDS = 7 * 86400;

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The stored form of a link's token: hex SHA-256. */
export const hashResetToken = (token: string) => new Bun.CryptoHasher("sha256").update(token).digest("hex");

/** The address a person opens: the public URL, the reset path and the token in the query string (never logged). */
export function resetUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, "")}${RESET_PATH}?token=${token}`;
}

export interface ResetLink {
  token: string;
  url: string;
  username: string;
  expiresAt: Date;
}

/**
 * Make a link for `username` (404 when there is none, 409 while the user is disabled) that works once within
 * `expiresInSeconds`. Earlier links of that user keep working until one of them is used, which ends them all.
 */
export async function createResetLink(
  db: Kysely<Database>,
  actor: Actor,
  username: string,
  {
    publicUrl,
    expiresInSeconds = DEFAULT_RESET_EXPIRY_SECONDS,
    mailedToOwner = false,
  }: {
    publicUrl: string;
    expiresInSeconds?: number;
    /** The link goes only to the user's own e-mail address ("forgot password"), never to the actor. */
    mailedToOwner?: boolean;
  },
): Promise<ResetLink> {
  // Whoever holds the link sets the password: an actor who is shown it (an administrator) must have typed their
  // own password lately, as for setting it. A link mailed to the account's own address is shown to nobody here.
  if (!mailedToOwner) requireRecentAuthentication(actor, "make a password-reset link");
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds <= 0 || expiresInSeconds > MAX_RESET_EXPIRY_SECONDS)
    throw new EndpointError("bad_expiry", 422, `a reset link lasts between 1 second and ${MAX_RESET_EXPIRY_SECONDS / 86400} days`);
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  return db.transaction().execute(async (trx) => {
    const user = await requireUser(trx, username);
    if (user.disabled) throw new EndpointError("user_disabled", 409, `user '${user.username}' is disabled; enable them before sending a reset link`);
    const row = await trx
      .insertInto("password_resets")
      .values({
        token_hash: hashResetToken(token),
        user_id: user.id,
        expires_at: sql`now() + make_interval(secs => ${expiresInSeconds})`,
        created_by: actor.name,
      })
      .returning("expires_at")
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, "user.reset_link.create", user.username, { expires_at: row.expires_at.toISOString() });
    return { token, url: resetUrl(publicUrl, token), username: user.username, expiresAt: row.expires_at };
  });
}

export type ResetLinkState = { state: "valid"; username: string } | { state: "used" | "expired" | "unknown" | "disabled" };

/** What a token opens, without using it: the username while valid, else why not. Uses the database's clock. */
export async function inspectResetLink(db: Kysely<Database>, token: string | null | undefined): Promise<ResetLinkState> {
  if (!token || !TOKEN_PATTERN.test(token)) return { state: "unknown" };
  const row = await db
    .selectFrom("password_resets")
    .innerJoin("users", "users.id", "password_resets.user_id")
    .select(["users.username", "users.disabled", "password_resets.used_at", sql<boolean>`password_resets.expires_at <= now()`.as("expired")])
    .where("token_hash", "=", hashResetToken(token))
    .executeTakeFirst();
  if (!row) return { state: "unknown" };
  if (row.used_at) return { state: "used" };
  if (row.expired) return { state: "expired" };
  if (row.disabled) return { state: "disabled" };
  return { state: "valid", username: row.username };
}

export const resetLinkRefused = (state: Exclude<ResetLinkState["state"], "valid">) =>
  state === "used"
    ? new EndpointError("reset_link_used", 410, "this reset link has already been used")
    : state === "expired"
      ? new EndpointError("reset_link_expired", 410, "this reset link has expired")
      : state === "disabled"
        ? new EndpointError("account_disabled", 403, "this account is disabled; ask an administrator")
        : new EndpointError("reset_link_unknown", 404, "this reset link is not valid");

/**
 * Set a new password with a link's token: the password must obey the policy (422, the link still unused), the
 * link must be unused and unexpired (claimed in the same transaction that sets the password, so two submits
 * cannot both succeed). The user's sessions end and their tokens are revoked. Returns the username.
 */
export async function useResetLink(db: Kysely<Database>, actor: Omit<Actor, "name">, token: string, password: string): Promise<string> {
  checkPasswordPolicy(password);
  const before = await inspectResetLink(db, token);
  if (before.state !== "valid") throw resetLinkRefused(before.state);
  const passwordHash = await hashPassword(password);
  const tokenHash = hashResetToken(token);
  const username = await db.transaction().execute(async (trx) => {
    const claimed = await trx
      .updateTable("password_resets")
      .set({ used_at: sql`now()` })
      .where("token_hash", "=", tokenHash)
      .where("used_at", "is", null)
      .where("expires_at", ">", sql<Date>`now()`)
      // Disabled meanwhile: the link stays unused (and disabling ends it anyway).
      .where("user_id", "not in", trx.selectFrom("users").select("id").where("disabled", "=", true))
      .returning("user_id")
      .executeTakeFirst();
    if (!claimed) return null;
    // One new password ends every other link of this user: none may undo it later.
    await trx.updateTable("password_resets").set({ used_at: sql`now()` }).where("user_id", "=", claimed.user_id).where("used_at", "is", null).execute();
    const user = await trx.selectFrom("users").select(["id", "username"]).where("id", "=", claimed.user_id).executeTakeFirstOrThrow();
    // The person holding the link acts as that user; the audit row names them.
    await replacePassword(trx, { ...actor, name: user.username }, user, passwordHash, { action: "user.reset_link.use" });
    return user.username;
  });
  if (username === null) {
    const after = await inspectResetLink(db, token);
    throw resetLinkRefused(after.state === "valid" ? "used" : after.state);
  }
  return username;
}
