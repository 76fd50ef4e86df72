// Managing groups and memberships: the one implementation behind the CLI, the admin pages and the REST API.
import { type Kysely, sql } from "kysely";
import { isUniqueViolation } from "../../db/errors.ts";
import type { Database } from "../../db/schema.ts";
import { EndpointError, conflict } from "../errors.ts";
import { type Actor, recordAudit } from "./audit.ts";
import { checkGroupName, quoteName } from "./names.ts";
import { requireUser } from "./users.ts";

export interface GroupSummary {
  id: string;
  name: string;
  description: string;
  members: string[];
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

export async function createGroup(
  db: Kysely<Database>,
  actor: Actor,
  input: { name: string; description?: string },
): Promise<GroupSummary> {
  checkGroupName(input.name, "groupname");
  const description = input.description ?? "";
  if (description.length > 500 || description.includes("\u0000"))
    throw new EndpointError("invalid_description", 422, "description must be at most 500 characters, without NUL", [
      { path: "/description", message: "at most 500 characters" },
    ]);
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

export async function removeGroup(db: Kysely<Database>, actor: Actor, name: string): Promise<void> {
  const group = await requireGroup(db, name);
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom("groups").where("id", "=", group.id).execute();
    await recordAudit(trx, actor, "group.remove", group.name);
  });
}

/** Groups ordered by name, each with its members' usernames. */
export async function listGroups(db: Kysely<Database>): Promise<GroupSummary[]> {
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
  return rows.map((r) => ({ id: r.id, name: r.name, description: r.description, members: r.members ?? [], created_at: r.created_at }));
}

export async function addMember(db: Kysely<Database>, actor: Actor, groupName: string, username: string): Promise<void> {
  const group = await requireGroup(db, groupName);
  const user = await requireUser(db, username);
  const inserted = await db.transaction().execute(async (trx) => {
    const result = await trx
      .insertInto("group_members")
      .values({ group_id: group.id, user_id: user.id })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (result.numInsertedOrUpdatedRows === 0n) return false;
    await recordAudit(trx, actor, "group.add_member", group.name, { member: user.username });
    return true;
  });
  if (!inserted)
    throw conflict("already_member", `user ${quoteName(user.username)} is already a member of group ${quoteName(group.name)}`);
}

export async function removeMember(db: Kysely<Database>, actor: Actor, groupName: string, username: string): Promise<void> {
  const group = await requireGroup(db, groupName);
  const user = await requireUser(db, username);
  const removed = await db.transaction().execute(async (trx) => {
    const result = await trx
      .deleteFrom("group_members")
      .where("group_id", "=", group.id)
      .where("user_id", "=", user.id)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) return false;
    await recordAudit(trx, actor, "group.remove_member", group.name, { member: user.username });
    return true;
  });
  if (!removed)
    throw new EndpointError("not_member", 409, `user ${quoteName(user.username)} is not a member of group ${quoteName(group.name)}`);
}
