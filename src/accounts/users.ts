// Users: the one implementation behind the CLI, the admin pages and the REST API, with every rule about them.
import { type Kysely, sql } from "kysely";
import { isUniqueViolation } from "../../db/errors.ts";
import type { Database } from "../../db/schema.ts";
import { checkPasswordPolicy, hashPassword } from "./passwords.ts";
import { EndpointError, conflict } from "../errors.ts";
import { type Actor, recordAudit } from "./audit.ts";
import { lockAdminGroup, refuseLastActiveAdmin } from "./last-admin.ts";
import { checkUsername, quoteName } from "./names.ts";
import type { AccountRules } from "./rules.ts";
import { requireRecentAuthentication } from "./sudo.ts";
import { revokeTokenFamilies } from "./tokens.ts";

export interface UserSummary {
  id: string;
  username: string;
  disabled: boolean;
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
  input: { username: string; password: string },
): Promise<UserSummary> {
  checkUsername(input.username);
  checkPasswordPolicy(input.password);
  if (await findUser(db, input.username)) throw conflict("user_exists", `user ${quoteName(input.username)} already exists`);
  const passwordHash = await hashPassword(input.password);
  try {
    const user = await db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto("users")
        .values({ username: input.username, password_hash: passwordHash })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordAudit(trx, actor, "user.create", row.username);
      return row;
    });
    return { id: user.id, username: user.username, disabled: user.disabled, groups: [], created_at: user.created_at, updated_at: user.updated_at };
  } catch (error) {
    // Two creators raced past the check above; the unique index decides.
    if (isUniqueViolation(error)) throw conflict("user_exists", `user ${quoteName(input.username)} already exists`);
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
  await db.transaction().execute(async (trx) => {
    await trx.updateTable("users").set({ password_hash: passwordHash, updated_at: sql`now()` }).where("id", "=", user.id).execute();
    // A new password ends every way in that the old one opened: sessions and API tokens alike.
    let sessions = trx.deleteFrom("sessions").where("user_id", "=", user.id);
    if (keepSession) sessions = sessions.where("id_hash", "!=", keepSession);
    await sessions.execute();
    await revokeTokenFamilies(trx, sql`select id from api_tokens where user_id = ${user.id}`);
    await recordAudit(trx, actor, "user.set_password", user.username);
  });
}

/**
 * Disable or enable a user. Disabling ends their sessions (their tokens are refused while disabled), needs a
 * recent password, and is refused for the last active administrator.
 */
export async function setDisabled(db: Kysely<Database>, rules: AccountRules, actor: Actor, username: string, disabled: boolean): Promise<void> {
  if (disabled) requireRecentAuthentication(actor, "disable a user");
  await db.transaction().execute(async (trx) => {
    const adminGroupId = disabled ? await lockAdminGroup(trx, rules) : undefined;
    const user = await requireUser(trx, username);
    if (disabled) await refuseLastActiveAdmin(trx, rules, adminGroupId, user, "disable this user");
    await trx.updateTable("users").set({ disabled, updated_at: sql`now()` }).where("id", "=", user.id).execute();
    if (disabled) await trx.deleteFrom("sessions").where("user_id", "=", user.id).execute();
    await recordAudit(trx, actor, disabled ? "user.disable" : "user.enable", user.username);
  });
}

/** Remove a user; their memberships, sessions and tokens go with them. Refused for the last active administrator. */
export async function removeUser(db: Kysely<Database>, rules: AccountRules, actor: Actor, username: string): Promise<void> {
  requireRecentAuthentication(actor, "delete a user");
  await db.transaction().execute(async (trx) => {
    const adminGroupId = await lockAdminGroup(trx, rules);
    const user = await requireUser(trx, username);
    await refuseLastActiveAdmin(trx, rules, adminGroupId, user, "delete this user");
    await trx.deleteFrom("users").where("id", "=", user.id).execute();
    await recordAudit(trx, actor, "user.remove", user.username);
  });
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
    users: rows.map((r) => ({ id: r.id, username: r.username, disabled: r.disabled, groups: r.groups ?? [], created_at: r.created_at, updated_at: r.updated_at })),
    total: Number(count.n),
  };
}

/** One user with their groups (404 when there is none). */
export async function describeUser(db: Kysely<Database>, username: string): Promise<UserSummary> {
  const user = await requireUser(db, username);
  const { users } = await listUsers(db, { search: user.username, limit: 1000 });
  return users.find((u) => u.id === user.id)!;
}
