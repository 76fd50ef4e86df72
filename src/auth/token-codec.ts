// The API token codec: `ept_` + an HS256 JWT whose jti names a row in api_tokens (src/accounts/tokens.ts). The JWT
// proves the server issued it; the row decides whether it still works (owner, scope, expiry, revocation, parent).
// Each token's `kid` header names the key that signed it, so verification tries exactly one key.
import { jwt } from "@elysiajs/jwt";
import { UUID_PATTERN as UUID } from "../accounts/tokens.ts";
import { type SigningSecrets, keyId } from "./secret.ts";

export const TOKEN_PREFIX = "ept_";
/** The pattern secret scanners (and our log redaction) use to find leaked tokens. */
export const TOKEN_PATTERN = /ept_eyJ[\w-]+\.[\w-]+\.[\w-]+/g;
export const TOKEN_AUDIENCE = "endpoint:api";
/** The JWT `typ` header: keeps API tokens apart from any other JWT signed with the same secret. */
export const TOKEN_TYPE = "ept+jwt";
export const MAX_TOKEN_LENGTH = 2048;
const KEY_ID = /^[0-9a-f]{16}$/;

export interface VerifiedToken {
  id: string;
  userId: string;
  expiresAt: number; // epoch ms
}

type JwtTools = ReturnType<typeof jwt>["decorator"]["jwt"];

/**
 * Signs with the current secret, naming it in `kid`; verifies with the one key the token's `kid` names, options
 * pinned. A token without `kid` (issued before kids existed) is tried against the current secret only.
 */
export class TokenCodec {
  readonly #signer: JwtTools;
  readonly #current: JwtTools;
  readonly #byKeyId = new Map<string, JwtTools>();

  /**
   * `clock` tells the time expiries are judged by: the database's (the auth cache's DatabaseClock) in a server, so an
   * instance whose clock runs minutes fast does not refuse a token that still runs by the clock that issued it.
   */
  constructor(
    secrets: SigningSecrets,
    private readonly clock: { now(): number } = Date,
  ) {
    const tools = (secret: string, kid?: string) => jwt({ name: "jwt", secret, alg: "HS256", typ: TOKEN_TYPE, kid }).decorator.jwt;
    const signingKeyId = keyId(secrets.signing);
    this.#signer = tools(secrets.signing, signingKeyId);
    for (const secret of new Set([secrets.signing, ...secrets.verifying])) {
      const kid = keyId(secret);
      // 64 bits never collide by chance; two different secrets with one id would make a token's key ambiguous.
      if (this.#byKeyId.has(kid)) throw new Error("two signing secrets share a key id; replace one of them");
      this.#byKeyId.set(kid, tools(secret));
    }
    this.#current = this.#byKeyId.get(signingKeyId)!;
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
    const kid = headerKeyId(compact);
    if (kid === null) return null;
    const verifier = kid === undefined ? this.#current : this.#byKeyId.get(kid);
    if (!verifier) return null;
    // @elysiajs/jwt verifies nothing beyond the signature unless told: pin the algorithm, kind and claims.
    const payload = await verifier.verify(compact, {
      algorithms: ["HS256"],
      audience: TOKEN_AUDIENCE,
      typ: TOKEN_TYPE,
      requiredClaims: ["exp", "iat", "jti", "sub"],
      clockTolerance: 5,
      currentDate: new Date(this.clock.now()),
    });
    if (!payload) return null;
    const { jti, sub, exp } = payload as { jti?: unknown; sub?: unknown; exp?: unknown };
    if (typeof jti !== "string" || !UUID.test(jti) || typeof sub !== "string" || !UUID.test(sub) || typeof exp !== "number") return null;
    return { id: jti, userId: sub, expiresAt: exp * 1000 };
  }
}

/**
 * The `kid` of a compact JWT's header: the id, undefined when the header has none, null when the header is not
 * JSON or its kid is not one of ours in form. The signature (checked next) covers the header, so a kid cannot be
 * swapped without the key it names.
 */
function headerKeyId(compact: string): string | undefined | null {
  const dot = compact.indexOf(".");
  if (dot <= 0) return null;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(compact.slice(0, dot), "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return null;
  if (!("kid" in header)) return undefined;
  const kid = (header as { kid: unknown }).kid;
  return typeof kid === "string" && KEY_ID.test(kid) ? kid : null;
}
