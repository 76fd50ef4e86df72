// Users: the one implementation behind the CLI, the admin pages and the REST API, with every rule about them.
import { type Kysely, sql } from "kysely";
import { isUniqueViolation } from "../../db/errors.ts";
import type { Database } from "../../db/schema.ts";
import { checkPasswordPolicy, hashPassword } from "./passwords.ts";
import { EndpointError, conflict } from "../errors.ts";
import { type Actor, recordAudit } from "./audit.ts";
import { checkEmail, emailTaken } from "./emails.ts";
import { lockAdminGroup, refuseLastActiveAdmin } from "./last-admin.ts";
import { checkUsername, quoteName } from "./names.ts";
import type { AccountRules } from "./rules.ts";
import { requireRecentAuthentication } from "./sudo.ts";
import { revokeTokenFamilies } from "./tokens.ts";

export interface UserSummary {
  id: string;
  username: string;
  disabled: boolean;
  /** Where password-reset links are sent; null when none. */
  email: string | null;
  groups: string[];
  created_at: Date;
  updated_at: Date;
}

export const userNotFound = (username: string) =>
  new EndpointError("user_not_found", 404, `user ${quoteName(username)} does not exist`);

/** Find a user by name, without regard to case. */
export async function findUser(db: Kysely<Database>, username: string) {
  return db
    .selectFrom("users")
    .selectAll()
    .where(sql<string>`lower(username)`, "=", username.toLowerCase())
    .executeTakeFirst();
}

export async function requireUser(db: Kysely<Database>, username: string) {
  const user = await findUser(db, username);
  if (!user) throw userNotFound(username);
  return user;
}

export async function createUser(
  db: Kysely<Database>,
  actor: Actor,
  input: { username: string; password: string; email?: string | null },
): Promise<UserSummary> {
  checkUsername(input.username);
  checkPasswordPolicy(input.password);
  const email = input.email?.trim() || null;
  if (email !== null) checkEmail(email);
  if (await findUser(db, input.username)) throw conflict("user_exists", `user ${quoteName(input.username)} already exists`);
  const passwordHash = await hashPassword(input.password);
  try {
    const user = await db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto("users")
        .values({ username: input.username, password_hash: passwordHash, email })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordAudit(trx, actor, "user.create", row.username);
      return row;
    });
    return { id: user.id, username: user.username, disabled: user.disabled, email: user.email, groups: [], created_at: user.created_at, updated_at: user.updated_at };
  } catch (error) {
    // Two creators raced past the check above (or the address is taken); the unique indexes decide.
    if (isUniqueViolation(error)) {
      if (email !== null && !(await findUser(db, input.username))) throw emailTaken();
      throw conflict("user_exists", `user ${quoteName(input.username)} already exists`);
    }
    throw error;
  }
}

/**
 * Set a new password; the user's sessions end and their tokens (and tokens made from them) are revoked.
 * `keepSession` (the hash of the session making the change, on the account page) stays signed in, as Django does.
 */
export async function setPassword(
  db: Kysely<Database>,
  actor: Actor,
  username: string,
  password: string,
  { keepSession }: { keepSession?: string } = {},
): Promise<void> {
  checkPasswordPolicy(password);
  const user = await requireUser(db, username);
  const passwordHash = await hashPassword(password);
  await db.transaction().execute((trx) => replacePassword(trx, actor, user, passwordHash, { keepSession }));
}

/**
 * Inside the caller's transaction: store an already-checked and hashed password, end the user's sessions (but
 * `keepSession`) and revoke their tokens, audited as `action`. setPassword and password-reset links share it.
 */
export async function replacePassword(
  trx: Kysely<Database>,
  actor: Actor,
  user: { id: string; username: string },
  passwordHash: string,
  { keepSession, action = "user.set_password", detail }: { keepSession?: string; action?: string; detail?: Record<string, unknown> } = {},
): Promise<void> {
  await trx.updateTable("users").set({ password_hash: passwordHash, updated_at: sql`now()` }).where("id", "=", user.id).execute();
  // A new password ends every way in that the old one opened: sessions and API tokens alike.
  let sessions = trx.deleteFrom("sessions").where("user_id", "=", user.id);
  if (keepSession) sessions = sessions.where("id_hash", "!=", keepSession);
  await sessions.execute();
  await revokeTokenFamilies(trx, sql`select id from api_tokens where user_id = ${user.id}`);
  await recordAudit(trx, actor, action, user.username, detail);
}

/** Set (or, with null or "", clear) a user's e-mail address; 409 when another user has it, whatever its case. */
export async function setEmail(db: Kysely<Database>, actor: Actor, username: string, email: string | null): Promise<void> {
  const value = email?.trim() || null;
  if (value !== null) checkEmail(value);
  try {
    await db.transaction().execute(async (trx) => {
      const user = await requireUser(trx, username);
      await trx.updateTable("users").set({ email: value, updated_at: sql`now()` }).where("id", "=", user.id).execute();
      await recordAudit(trx, actor, "user.set_email", user.username, { email: value });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw emailTaken();
    throw error;
  }
}

/**
 * Disable or enable a user. Disabling ends their sessions and their unused password-reset links (their tokens are
 * refused while disabled), needs a recent password, and is refused for the last active administrator. Returns
 * whether the user's state changed.
 */
export async function setDisabled(db: Kysely<Database>, rules: AccountRules, actor: Actor, username: string, disabled: boolean): Promise<boolean> {
  if (disabled) requireRecentAuthentication(actor, "disable a user");
  return db.transaction().execute(async (trx) => {
    const adminGroupId = disabled ? await lockAdminGroup(trx, rules) : undefined;
    const user = await requireUser(trx, username);
    if (disabled) await refuseLastActiveAdmin(trx, rules, adminGroupId, user, "disable this user");
    // Only a change is written and audited: disabling a disabled user (a repeated request) changes nothing.
    const updated = await trx
      .updateTable("users")
      .set({ disabled, updated_at: sql`now()` })
      .where("id", "=", user.id)
      .where("disabled", "!=", disabled)
      .executeTakeFirst();
    if (disabled) {
      await trx.deleteFrom("sessions").where("user_id", "=", user.id).execute();
      // An account is often disabled because it is suspected taken: a link sent before must not set a password
      // that is waiting there when the account is enabled again.
      await trx.deleteFrom("password_resets").where("user_id", "=", user.id).where("used_at", "is", null).execute();
    }
    if (updated.numUpdatedRows === 0n) return false;
    await recordAudit(trx, actor, disabled ? "user.disable" : "user.enable", user.username);
    return true;
  });
}

/**
 * Remove a user; their memberships, sessions and tokens go with them. Refused for the last active administrator.
 * Returns whether it removed one: with `alreadyDone: "report"`, a user removed lately (a replayed DELETE) is false,
 * not 404; a name never used is still 404.
 */
export async function removeUser(db: Kysely<Database>, rules: AccountRules, actor: Actor, username: string, { alreadyDone = "refuse" }: AlreadyDone = {}): Promise<boolean> {
  requireRecentAuthentication(actor, "delete a user");
  return db.transaction().execute(async (trx) => {
    const adminGroupId = await lockAdminGroup(trx, rules);
    const user = await findUser(trx, username);
    if (!user) {
      // With the admin group locked, a concurrent removal of this user has committed its audit row by now.
      if (alreadyDone === "report" && (await removedLately(trx, "user.remove", username))) return false;
      throw userNotFound(username);
    }
    await refuseLastActiveAdmin(trx, rules, adminGroupId, user, "delete this user");
    const deleted = await trx.deleteFrom("users").where("id", "=", user.id).executeTakeFirst();
    if (deleted.numDeletedRows === 0n) {
      if (alreadyDone === "report") return false;
      throw userNotFound(username);
    }
    await recordAudit(trx, actor, "user.remove", user.username);
    return true;
  });
}

/**
 * How a change that finds its work already done answers. "refuse" (the default) is for people: adding a member
 * twice is 409 already_member, deleting what is not there 404. "report" is for HTTP PUT and DELETE, which a proxy
 * may send again on another instance when the first answer was lost: the function returns false (nothing changed,
 * nothing audited), so the door can answer as the first request did.
 */
export interface AlreadyDone {
  alreadyDone?: "refuse" | "report";
}

/**
 * Whether the audit log shows `name` deleted (`user.remove`, `group.remove`) within the last day: then a DELETE
 * that finds nothing is a repeat of that one, not a typo. Bounded in time so the audit log's `at` index serves it.
 */
export async function removedLately(db: Kysely<Database>, action: "user.remove" | "group.remove", name: string): Promise<boolean> {
  const row = await db
    .selectFrom("audit_log")
    .select("id")
    .where("at", ">", sql<Date>`now() - interval '1 day'`)
    .where("action", "=", action)
    .where(sql<string>`lower(target)`, "=", name.toLowerCase())
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export interface UserQuery {
  search?: string;
  limit?: number;
  offset?: number;
}

/** Users ordered by name, each with their groups; `search` matches part of the username. */
export async function listUsers(db: Kysely<Database>, query: UserQuery = {}): Promise<{ users: UserSummary[]; total: number }> {
  let base = db.selectFrom("users");
  if (query.search) {
    const pattern = `%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    base = base.where(sql<string>`lower(username)`, "like", pattern);
  }
  const [rows, count] = await Promise.all([
    base
      .select((eb) => [
        "users.id",
        "users.username",
        "users.disabled",
        "users.email",
        "users.created_at",
        "users.updated_at",
        eb
          .selectFrom("group_members")
          .innerJoin("groups", "groups.id", "group_members.group_id")
          .whereRef("group_members.user_id", "=", "users.id")
          .select(sql<string[]>`coalesce(array_agg(groups.name order by groups.name), '{}')`.as("names"))
          .as("groups"),
      ])
      .orderBy(sql`lower(username)`)
      .limit(query.limit ?? 1000)
      .offset(query.offset ?? 0)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return {
    users: rows.map((r) => ({ id: r.id, username: r.username, disabled: r.disabled, email: r.email, groups: r.groups ?? [], created_at: r.created_at, updated_at: r.updated_at })),
    total: Number(count.n),
  };
}

/** One user with their groups (404 when there is none). */
export async function describeUser(db: Kysely<Database>, username: string): Promise<UserSummary> {
  const user = await requireUser(db, username);
  const { users } = await listUsers(db, { search: user.username, limit: 1000 });
  return users.find((u) => u.id === user.id)!;
}
