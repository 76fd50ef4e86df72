// The API token codec: `ept_` + an HS256 JWT whose jti names a row in api_tokens (src/accounts/tokens.ts). The JWT
// proves the server issued it; the row decides whether it still works (owner, scope, expiry, revocation, parent).
import { jwt } from "@elysiajs/jwt";
import { UUID_PATTERN as UUID } from "../accounts/tokens.ts";
import type { SigningSecrets } from "./secret.ts";

export const TOKEN_PREFIX = "ept_";
/** The pattern secret scanners (and our log redaction) use to find leaked tokens. */
export const TOKEN_PATTERN = /ept_eyJ[\w-]+\.[\w-]+\.[\w-]+/g;
export const TOKEN_AUDIENCE = "endpoint:api";
/** The JWT `typ` header: keeps API tokens apart from any other JWT signed with the same secret. */
export const TOKEN_TYPE = "ept+jwt";
export const MAX_TOKEN_LENGTH = 2048;

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
