// Groups and memberships: the one implementation behind the CLI, the admin pages and the REST API, with every
// rule about them (declared groups stay, the admin group keeps an active member, admin changes need sudo).
import { type Kysely, sql } from "kysely";
import { isUniqueViolation } from "../../db/errors.ts";
import type { Database } from "../../db/schema.ts";
import { EndpointError, conflict } from "../errors.ts";
import { type Actor, recordAudit } from "./audit.ts";
import { lockAdminGroup, refuseLastActiveAdmin } from "./last-admin.ts";
import { checkGroupName, quoteName } from "./names.ts";
import type { AccountRules } from "./rules.ts";
import { requireRecentAuthentication } from "./sudo.ts";
import { type AlreadyDone, removedLately, requireUser } from "./users.ts";

export interface GroupSummary {
  id: string;
  name: string;
  description: string;
  members: string[];
  /** Declared in endpoint.yaml (so it cannot be deleted). */
  declared: boolean;
  created_at: Date;
}

export const groupNotFound = (name: string) =>
  new EndpointError("group_not_found", 404, `group ${quoteName(name)} does not exist`);

export async function findGroup(db: Kysely<Database>, name: string) {
  return db.selectFrom("groups").selectAll().where(sql<string>`lower(name)`, "=", name.toLowerCase()).executeTakeFirst();
}

export async function requireGroup(db: Kysely<Database>, name: string) {
  const group = await findGroup(db, name);
  if (!group) throw groupNotFound(name);
  return group;
}

function checkDescription(description: string): void {
  if (description.length > 500 || /[\u0000]/.test(description))
    throw new EndpointError("invalid_description", 422, "description must be at most 500 characters, without NUL", [
      { path: "/description", message: "at most 500 characters" },
    ]);
}

export async function createGroup(
  db: Kysely<Database>,
  actor: Actor,
  input: { name: string; description?: string },
): Promise<Omit<GroupSummary, "declared">> {
  checkGroupName(input.name, "groupname");
  const description = input.description ?? "";
  checkDescription(description);
  if (await findGroup(db, input.name)) throw conflict("group_exists", `group ${quoteName(input.name)} already exists`);
  try {
    const row = await db.transaction().execute(async (trx) => {
      const created = await trx.insertInto("groups").values({ name: input.name, description }).returningAll().executeTakeFirstOrThrow();
      await recordAudit(trx, actor, "group.create", created.name);
      return created;
    });
    return { id: row.id, name: row.name, description: row.description, members: [], created_at: row.created_at };
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict("group_exists", `group ${quoteName(input.name)} already exists`);
    throw error;
  }
}

/**
 * Create the groups endpoint.yaml declares that the database lacks, with their descriptions (audited with actor
 * `config`). Run by init-db, migrate latest and at server start; safe to run again and from several instances.
 */
export async function ensureDeclaredGroups(db: Kysely<Database>, rules: AccountRules): Promise<string[]> {
  const created: string[] = [];
  for (const [name, description] of rules.declaredGroups) {
    await db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto("groups")
        .values({ name, description })
        .onConflict((oc) => oc.expression(sql`lower(name)`).doNothing())
        .returning("name")
        .executeTakeFirst();
      if (!row) return;
      await recordAudit(trx, { name: "config", source: "config", recentlyAuthenticated: true }, "group.create", name, { declared_in: rules.configFile });
      created.push(name);
    });
  }
  return created;
}

/**
 * Delete a group and its memberships. The admin group and groups endpoint.yaml declares cannot be deleted.
 * Returns whether it deleted one: with `alreadyDone: "report"`, a group deleted lately (a replayed DELETE) is false,
 * not 404; a name never used is still 404.
 */
export async function removeGroup(db: Kysely<Database>, rules: AccountRules, actor: Actor, name: string, { alreadyDone = "refuse" }: AlreadyDone = {}): Promise<boolean> {
  const lower = name.toLowerCase();
  if (lower === rules.adminGroup)
    throw new EndpointError("admin_group", 409, `group ${quoteName(rules.adminGroup)} administers Endpoint and cannot be deleted`);
  if (rules.declaredGroups.has(lower))
    throw new EndpointError(
      "declared_group",
      409,
      `group ${quoteName(lower)} is declared in ${rules.configFile}; remove it (and the routes that name it) from there first`,
    );
  requireRecentAuthentication(actor, "delete a group");
  return db.transaction().execute(async (trx) => {
    const group = await findGroup(trx, name);
    if (!group) {
      if (alreadyDone === "report" && (await removedLately(trx, "group.remove", name))) return false;
      throw groupNotFound(name);
    }
    const deleted = await trx.deleteFrom("groups").where("id", "=", group.id).executeTakeFirst();
    // Another request deleted it between the read and the delete: that one wrote the audit row.
    if (deleted.numDeletedRows === 0n) {
      if (alreadyDone === "report") return false;
      throw groupNotFound(name);
    }
    await recordAudit(trx, actor, "group.remove", group.name);
    return true;
  });
}

/** Groups ordered by name, each with its members' usernames and whether the config declares it. */
export async function listGroups(db: Kysely<Database>, rules?: AccountRules): Promise<GroupSummary[]> {
  const rows = await db
    .selectFrom("groups")
    .select((eb) => [
      "groups.id",
      "groups.name",
      "groups.description",
      "groups.created_at",
      eb
        .selectFrom("group_members")
        .innerJoin("users", "users.id", "group_members.user_id")
        .whereRef("group_members.group_id", "=", "groups.id")
        .select(sql<string[]>`coalesce(array_agg(users.username order by lower(users.username)), '{}')`.as("names"))
        .as("members"),
    ])
    .orderBy("groups.name")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    description: r.description,
    members: r.members ?? [],
    declared: rules?.declaredGroups.has(r.name) ?? false,
    created_at: r.created_at,
  }));
}

/** One group with its members (404 when there is none). */
export async function describeGroup(db: Kysely<Database>, rules: AccountRules, name: string): Promise<GroupSummary> {
  const group = (await listGroups(db, rules)).find((g) => g.name === name.toLowerCase());
  if (!group) throw groupNotFound(name);
  return group;
}

const isAdminGroup = (rules: AccountRules, name: string) => name.toLowerCase() === rules.adminGroup;

/** A membership change: the group and user as stored, and whether anything changed (a repeat changes nothing). */
export interface MembershipChange {
  changed: boolean;
  group: string;
  username: string;
}

/**
 * Put a user in a group. Already a member: 409 already_member, or with `alreadyDone: "report"` (a replayed PUT)
 * `changed: false`. Only a change is audited.
 */
export async function addMember(
  db: Kysely<Database>,
  rules: AccountRules,
  actor: Actor,
  groupName: string,
  username: string,
  { alreadyDone = "refuse" }: AlreadyDone = {},
): Promise<MembershipChange> {
  if (isAdminGroup(rules, groupName)) requireRecentAuthentication(actor, "make someone an administrator");
  const outcome = await db.transaction().execute(async (trx) => {
    const group = await requireGroup(trx, groupName);
    const user = await requireUser(trx, username);
    const result = await trx
      .insertInto("group_members")
      .values({ group_id: group.id, user_id: user.id })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (result.numInsertedOrUpdatedRows === 0n) return { changed: false, group: group.name, username: user.username };
    await recordAudit(trx, actor, "group.add_member", group.name, { member: user.username });
    return { changed: true, group: group.name, username: user.username };
  });
  if (!outcome.changed && alreadyDone === "refuse")
    throw conflict("already_member", `user ${quoteName(outcome.username)} is already a member of group ${quoteName(outcome.group)}`);
  return outcome;
}

/**
 * Take a user out of a group; the last active administrator cannot leave the admin group. Not a member: 409
 * not_member, or with `alreadyDone: "report"` (a replayed DELETE) `changed: false`. Only a change is audited.
 */
export async function removeMember(
  db: Kysely<Database>,
  rules: AccountRules,
  actor: Actor,
  groupName: string,
  username: string,
  { alreadyDone = "refuse" }: AlreadyDone = {},
): Promise<MembershipChange> {
  const fromAdminGroup = isAdminGroup(rules, groupName);
  if (fromAdminGroup) requireRecentAuthentication(actor, "remove an administrator");
  const outcome = await db.transaction().execute(async (trx) => {
    const adminGroupId = fromAdminGroup ? await lockAdminGroup(trx, rules) : undefined;
    const group = await requireGroup(trx, groupName);
    const user = await requireUser(trx, username);
    if (fromAdminGroup) await refuseLastActiveAdmin(trx, rules, adminGroupId, user, "remove this member");
    const result = await trx.deleteFrom("group_members").where("group_id", "=", group.id).where("user_id", "=", user.id).executeTakeFirst();
    if (result.numDeletedRows === 0n) return { changed: false, group: group.name, username: user.username };
    await recordAudit(trx, actor, "group.remove_member", group.name, { member: user.username });
    return { changed: true, group: group.name, username: user.username };
  });
  if (!outcome.changed && alreadyDone === "refuse")
    throw new EndpointError("not_member", 409, `user ${quoteName(outcome.username)} is not a member of group ${quoteName(outcome.group)}`);
  return outcome;
}
