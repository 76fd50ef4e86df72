// The one invariant every door shares: at least one active (not disabled) member of the admin group remains, so
// someone can always sign in to /admin. Checked inside the transaction that makes the change, after locking the
// admin group's row, so two concurrent changes (two admins removing each other) run one after the other and the
// second one sees the first one's result.
import { type Kysely, type Transaction, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import { EndpointError } from "../errors.ts";
import { quoteName } from "./names.ts";
import type { AccountRules } from "./rules.ts";

/**
 * Lock the admin group's row until the transaction ends; returns its id, or undefined when the group does not
 * exist (then there is no administrator to protect).
 */
export async function lockAdminGroup(trx: Transaction<Database>, rules: AccountRules): Promise<string | undefined> {
  const row = await trx.selectFrom("groups").select("id").where(sql<string>`lower(name)`, "=", rules.adminGroup).forUpdate().executeTakeFirst();
  return row?.id;
}

/** Refuse (409 last_admin) when `userId` is the only active member of the admin group. Call with the group locked. */
export async function refuseLastActiveAdmin(
  trx: Kysely<Database>,
  rules: AccountRules,
  adminGroupId: string | undefined,
  user: { id: string; username: string },
  change: string,
): Promise<void> {
  if (!adminGroupId) return;
  const active = await trx
    .selectFrom("group_members")
    .innerJoin("users", "users.id", "group_members.user_id")
    .select("users.id")
    .where("group_members.group_id", "=", adminGroupId)
    .where("users.disabled", "=", false)
    .limit(2)
    .execute();
  if (active.length === 1 && active[0]!.id === user.id)
    throw new EndpointError(
      "last_admin",
      409,
      `cannot ${change}: ${quoteName(user.username)} is the last active member of group ${quoteName(rules.adminGroup)}; make someone else an administrator first`,
    );
}
