// API token records: who owns a token, what it may call, when it ends, which token made it, and revocation.
// The signed token itself (`ept_` + JWT) is made in src/auth/issue-token.ts; here only the row that decides.
// Rule: a token never grants more than what created it. A token made with a token (its parent) is limited to a
// subset of the parent's routes, ends no later than the parent, and is revoked with it.
import { type Kysely, type RawBuilder, type Transaction, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import { EndpointError, invalid } from "../errors.ts";
import { type Actor, isMachine, recordAudit } from "./audit.ts";
import { quoteName } from "./names.ts";
import type { AccountRules } from "./rules.ts";
import { requireRecentAuthentication } from "./sudo.ts";
import { requireUser } from "./users.ts";

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface TokenSummary {
  id: string;
  owner: string;
  name: string;
  routes: string[] | null;
  /** The token that created this one, if a token did. */
  parent_id: string | null;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface NewTokenRecord {
  summary: TokenSummary;
  ownerId: string;
}

export const tokenNotFound = (id: string) => new EndpointError("token_not_found", 404, `token ${quoteName(id)} does not exist`);

export function checkTokenName(name: string): void {
  if (name.length < 1 || name.length > 64 || /[\u0000-\u001f\u007f]/.test(name))
    throw invalid("invalid_token_name", "token name must be 1-64 characters without control characters", [
      { path: "/name", message: "1-64 characters, no control characters" },
    ]);
}

export interface TokenRequest {
  /** The owner; the token acts with their groups. */
  username: string;
  name: string;
  /** Lifetime; when omitted, `defaultExpirySeconds`, shortened to the parent's end for a child token. */
  expiresInSeconds?: number;
  defaultExpirySeconds: number;
  maxExpirySeconds: number;
  /** Route names the token is limited to; null or empty = whatever its owner may call. */
  routes?: string[] | null;
  /** Every route name there is, to refuse typos. */
  knownRoutes?: readonly string[];
}

/** Create a token's record (not yet signed). Audited as token.create. */
export async function createTokenRecord(db: Kysely<Database>, rules: AccountRules, actor: Actor, input: TokenRequest): Promise<NewTokenRecord> {
  checkTokenName(input.name);
  const routes = input.routes?.length ? [...new Set(input.routes)] : null;
  if (routes && input.knownRoutes) {
    const unknown = routes.filter((r) => !input.knownRoutes!.includes(r));
    if (unknown.length)
      throw invalid("unknown_route", `no route is named ${unknown.map(quoteName).join(", ")}; see: bun run cli routes`, [
        { path: "/routes", message: "unknown route name" },
      ]);
  }
  const explicitExpiry = input.expiresInSeconds !== undefined;
  const seconds = input.expiresInSeconds ?? input.defaultExpirySeconds;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > input.maxExpirySeconds)
    throw invalid("invalid_expiry", `a token lives between 1 second and ${Math.floor(input.maxExpirySeconds / 86400)} days (auth.tokens.max_expiry)`, [
      { path: "/expires_in_seconds", message: "out of range" },
    ]);
  if (!isMachine(actor)) {
    const isAdmin = actor.user?.groups.includes(rules.adminGroup) ?? false;
    if (!isAdmin && input.username.toLowerCase() !== actor.name.toLowerCase())
      throw new EndpointError("forbidden", 403, "only administrators create tokens for other users");
    // A browser session must have typed its password lately (a token's limits come from its parent, below).
    requireRecentAuthentication(actor, "create an API token");
  }

  return db.transaction().execute(async (trx) => {
    const owner = await requireUser(trx, input.username);
    if (owner.disabled) throw new EndpointError("user_disabled", 409, `user ${quoteName(owner.username)} is disabled`);
    let expiresAt: RawBuilder<Date> = sql<Date>`now() + make_interval(secs => ${seconds})`;
    if (actor.tokenId) expiresAt = await checkParent(trx, actor.tokenId, routes, seconds, explicitExpiry);
    const created = await trx
      .insertInto("api_tokens")
      .values({ user_id: owner.id, name: input.name, routes, expires_at: expiresAt, parent_id: actor.tokenId ?? null })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, "token.create", owner.username, { token_id: created.id, name: input.name, routes, parent_id: created.parent_id });
    const summary: TokenSummary = {
      id: created.id,
      owner: owner.username,
      name: created.name,
      routes: created.routes,
      parent_id: created.parent_id,
      created_at: created.created_at,
      expires_at: created.expires_at,
      last_used_at: null,
      revoked_at: null,
    };
    return { summary, ownerId: owner.id };
  });
}

/**
 * A child token's limits: its parent must still be valid (locked against a concurrent revoke), the child's routes
 * a subset of the parent's, its end no later than the parent's. Returns the child's expiry expression.
 */
async function checkParent(trx: Transaction<Database>, parentId: string, routes: string[] | null, seconds: number, explicitExpiry: boolean): Promise<RawBuilder<Date>> {
  const parent = await trx
    .selectFrom("api_tokens")
    .select(["routes", "expires_at", "revoked_at", sql<boolean>`expires_at < now() + make_interval(secs => ${seconds})`.as("outlived")])
    .where("id", "=", parentId)
    .forShare()
    .executeTakeFirst();
  if (!parent || parent.revoked_at) throw new EndpointError("parent_token_revoked", 403, "the token making this request has been revoked");
  if (parent.routes !== null) {
    const beyond = routes === null ? null : routes.filter((r) => !parent.routes!.includes(r));
    if (beyond === null || beyond.length > 0)
      throw new EndpointError(
        "token_scope_exceeds_parent",
        403,
        beyond === null
          ? `a token limited to routes ${parent.routes.map(quoteName).join(", ")} can only create tokens limited to some of them; list "routes"`
          : `this token may not call ${beyond.map(quoteName).join(", ")}, so it cannot create a token that may`,
      );
  }
  if (parent.outlived) {
    if (explicitExpiry)
      throw new EndpointError("token_outlives_parent", 403, `a token made with a token must expire no later than it (${parent.expires_at.toISOString()})`);
    return sql<Date>`${parent.expires_at}::timestamptz`;
  }
  return sql<Date>`now() + make_interval(secs => ${seconds})`;
}

const SUMMARY_COLUMNS = [
  "api_tokens.id",
  "users.username as owner",
  "api_tokens.name",
  "api_tokens.routes",
  "api_tokens.parent_id",
  "api_tokens.created_at",
  "api_tokens.expires_at",
  "api_tokens.last_used_at",
  "api_tokens.revoked_at",
] as const;

/** Tokens, newest first: all of them, or one owner's. Never the tokens themselves (they are not stored). */
export async function listTokens(db: Kysely<Database>, { username }: { username?: string } = {}): Promise<TokenSummary[]> {
  let query = db.selectFrom("api_tokens").innerJoin("users", "users.id", "api_tokens.user_id").select(SUMMARY_COLUMNS);
  if (username) query = query.where(sql<string>`lower(users.username)`, "=", username.toLowerCase());
  return query.orderBy("api_tokens.created_at", "desc").execute();
}

/**
 * One token's record: any for an administrator or the machine, otherwise only the actor's own (else 404).
 * `ownOnly` limits an administrator to their own too (the account page).
 */
export async function findToken(db: Kysely<Database>, rules: AccountRules, actor: Actor, id: string, { ownOnly = false } = {}): Promise<TokenSummary> {
  if (!UUID_PATTERN.test(id)) throw tokenNotFound(id);
  let query = db.selectFrom("api_tokens").innerJoin("users", "users.id", "api_tokens.user_id").select(SUMMARY_COLUMNS).where("api_tokens.id", "=", id);
  if (ownOnly || !seesAllTokens(rules, actor)) query = query.where("api_tokens.user_id", "=", actor.user?.id ?? "00000000-0000-0000-0000-000000000000");
  const token = await query.executeTakeFirst();
  // Someone else's token is "not found", not "forbidden": its existence is not theirs to learn.
  if (!token) throw tokenNotFound(id);
  return token;
}

/** Administrators (and the CLI) see and revoke every token; anyone else only their own. */
export const seesAllTokens = (rules: AccountRules, actor: Actor) => isMachine(actor) || (actor.user?.groups.includes(rules.adminGroup) ?? false);

/** Revoke a token and every token made from it; returns the ids revoked. Audited as token.revoke. */
export async function revokeToken(db: Kysely<Database>, rules: AccountRules, actor: Actor, id: string, { ownOnly = false } = {}): Promise<string[]> {
  const token = await findToken(db, rules, actor, id, { ownOnly });
  if (token.revoked_at) throw new EndpointError("token_revoked", 409, `token ${quoteName(id)} is already revoked`);
  return db.transaction().execute(async (trx) => {
    const revoked = await revokeTokenFamilies(trx, sql`select id from api_tokens where id = ${id}`);
    // Another request revoked it between the read above and this transaction.
    if (revoked.length === 0) throw new EndpointError("token_revoked", 409, `token ${quoteName(id)} is already revoked`);
    await recordAudit(trx, actor, "token.revoke", token.owner, { token_id: id, descendants_revoked: revoked.length - 1 });
    return revoked;
  });
}

/**
 * Revoke the tokens `roots` selects (a query returning ids) and all their descendants; returns the ids revoked.
 * Used for a single revoke and for a new password (every token of the user).
 */
export async function revokeTokenFamilies(trx: Kysely<Database>, roots: RawBuilder<unknown>): Promise<string[]> {
  const result = await sql<{ id: string }>`
    with recursive family(id) as (
      ${roots}
      union
      select child.id from api_tokens child join family on child.parent_id = family.id
    )
    update api_tokens set revoked_at = now()
    where id in (select id from family) and revoked_at is null
    returning id`.execute(trx);
  return result.rows.map((row) => row.id);
}
