// API tokens: `ept_` + an HS256 JWT whose jti names a row in api_tokens. The JWT proves the server issued it;
// the row decides whether it still works (owner, scope, expiry, revocation). Shown once, never stored.
import { jwt } from "@elysiajs/jwt";
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import { type Actor, recordAudit } from "../admin/audit.ts";
import { quoteName } from "../admin/names.ts";
import { requireUser } from "../admin/users.ts";
import { EndpointError, invalid } from "../errors.ts";
import type { SigningSecrets } from "./secret.ts";

export const TOKEN_PREFIX = "ept_";
/** The pattern secret scanners (and our log redaction) use to find leaked tokens. */
export const TOKEN_PATTERN = /ept_eyJ[\w-]+\.[\w-]+\.[\w-]+/g;
export const TOKEN_AUDIENCE = "endpoint:api";
/** The JWT `typ` header: keeps API tokens apart from any other JWT signed with the same secret. */
export const TOKEN_TYPE = "ept+jwt";
export const MAX_TOKEN_LENGTH = 2048;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface VerifiedToken {
  id: string;
  userId: string;
  expiresAt: number; // epoch ms
}

type JwtTools = ReturnType<typeof jwt>["decorator"]["jwt"];

/** Signs with the current secret; verifies against every configured secret with the options pinned. */
export class TokenCodec {
  readonly #signer: JwtTools;
  readonly #verifiers: JwtTools[];

  constructor(secrets: SigningSecrets) {
    const tools = (secret: string) => jwt({ name: "jwt", secret, alg: "HS256", typ: TOKEN_TYPE }).decorator.jwt;
    this.#signer = tools(secrets.signing);
    this.#verifiers = secrets.verifying.map(tools);
  }

  async sign(claims: { id: string; userId: string; expiresAt: Date }): Promise<string> {
    const signed = await this.#signer.sign({
      jti: claims.id,
      sub: claims.userId,
      aud: TOKEN_AUDIENCE,
      exp: Math.floor(claims.expiresAt.getTime() / 1000),
    });
    return TOKEN_PREFIX + signed;
  }

  /** The token's claims when it is ours, untampered, of the right kind and unexpired; null otherwise. */
  async verify(presented: string): Promise<VerifiedToken | null> {
    if (presented.length > MAX_TOKEN_LENGTH || !presented.startsWith(TOKEN_PREFIX)) return null;
    const compact = presented.slice(TOKEN_PREFIX.length);
    for (const verifier of this.#verifiers) {
      // @elysiajs/jwt verifies nothing beyond the signature unless told: pin the algorithm, kind and claims.
      const payload = await verifier.verify(compact, {
        algorithms: ["HS256"],
        audience: TOKEN_AUDIENCE,
        typ: TOKEN_TYPE,
        requiredClaims: ["exp", "iat", "jti", "sub"],
        clockTolerance: 5,
      });
      if (!payload) continue;
      const { jti, sub, exp } = payload as { jti?: unknown; sub?: unknown; exp?: unknown };
      if (typeof jti !== "string" || !UUID.test(jti) || typeof sub !== "string" || !UUID.test(sub) || typeof exp !== "number") return null;
      return { id: jti, userId: sub, expiresAt: exp * 1000 };
    }
    return null;
  }
}

export interface TokenSummary {
  id: string;
  owner: string;
  name: string;
  routes: string[] | null;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export function checkTokenName(name: string): void {
  if (name.length < 1 || name.length > 64 || /[\u0000-\u001f\u007f]/.test(name))
    throw invalid("invalid_token_name", "token name must be 1-64 characters without control characters", [
      { path: "/name", message: "1-64 characters, no control characters" },
    ]);
}

export async function createToken(
  db: Kysely<Database>,
  codec: TokenCodec,
  actor: Actor,
  input: { username: string; name: string; expiresInSeconds: number; routes?: string[] | null; knownRoutes?: readonly string[] },
): Promise<{ token: string; summary: TokenSummary }> {
  checkTokenName(input.name);
  const routes = input.routes?.length ? [...new Set(input.routes)] : null;
  if (routes && input.knownRoutes) {
    const unknown = routes.filter((r) => !input.knownRoutes!.includes(r));
    if (unknown.length)
      throw invalid("unknown_route", `no route is named ${unknown.map(quoteName).join(", ")}; see: bun run cli routes`, [
        { path: "/routes", message: "unknown route name" },
      ]);
  }
  const owner = await requireUser(db, input.username);
  if (owner.disabled) throw new EndpointError("user_disabled", 409, `user ${quoteName(owner.username)} is disabled`);
  const row = await db.transaction().execute(async (trx) => {
    const created = await trx
      .insertInto("api_tokens")
      .values({
        user_id: owner.id,
        name: input.name,
        routes,
        expires_at: sql<Date>`now() + make_interval(secs => ${input.expiresInSeconds})`,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, "token.create", owner.username, { token_id: created.id, name: input.name, routes });
    return created;
  });
  const token = await codec.sign({ id: row.id, userId: owner.id, expiresAt: row.expires_at });
  return {
    token,
    summary: { id: row.id, owner: owner.username, name: row.name, routes: row.routes, created_at: row.created_at, expires_at: row.expires_at, last_used_at: null, revoked_at: null },
  };
}

export async function listTokens(db: Kysely<Database>, { username }: { username?: string } = {}): Promise<TokenSummary[]> {
  let query = db
    .selectFrom("api_tokens")
    .innerJoin("users", "users.id", "api_tokens.user_id")
    .select(["api_tokens.id", "users.username as owner", "api_tokens.name", "api_tokens.routes", "api_tokens.created_at", "api_tokens.expires_at", "api_tokens.last_used_at", "api_tokens.revoked_at"]);
  if (username) query = query.where(sql<string>`lower(users.username)`, "=", username.toLowerCase());
  return query.orderBy("api_tokens.created_at", "desc").execute();
}

export const tokenNotFound = (id: string) => new EndpointError("token_not_found", 404, `token ${quoteName(id)} does not exist`);

/** Revoke a token (optionally only if `ownerId` owns it, so one user cannot learn of another's tokens). */
export async function revokeToken(db: Kysely<Database>, actor: Actor, id: string, { ownerId }: { ownerId?: string } = {}): Promise<void> {
  if (!UUID.test(id)) throw tokenNotFound(id);
  let query = db.selectFrom("api_tokens").innerJoin("users", "users.id", "api_tokens.user_id").select(["api_tokens.id", "api_tokens.revoked_at", "users.username"]).where("api_tokens.id", "=", id);
  if (ownerId) query = query.where("api_tokens.user_id", "=", ownerId);
  const token = await query.executeTakeFirst();
  if (!token) throw tokenNotFound(id);
  if (token.revoked_at) throw new EndpointError("token_revoked", 409, `token ${quoteName(id)} is already revoked`);
  await db.transaction().execute(async (trx) => {
    await trx.updateTable("api_tokens").set({ revoked_at: sql`now()` }).where("id", "=", id).execute();
    await recordAudit(trx, actor, "token.revoke", token.username, { token_id: id });
  });
}
