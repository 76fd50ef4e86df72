// Resolves the principal from the credentials a route accepts: the session cookie, or a bearer token in the
// Authorization header (never a query parameter). Everything it needs is in the AuthCache, so in the common case
// no database round trip is made.
import type { Config } from "../config/schema.ts";
import type { ActivityRecorder } from "./activity.ts";
import type { AuthCache } from "./auth-cache.ts";
import type { AuthResult, Authenticator } from "./authenticator.ts";
import type { Credential, Principal } from "./principal.ts";
import { hashSessionId, looksLikeSessionId } from "./sessions.ts";
import type { TokenCodec, VerifiedToken } from "./token-codec.ts";

const NOBODY: AuthResult = Object.freeze({ principal: null, tried: [] });
const VERIFIED_CACHE_LIMIT = 10_000;

/** Read one cookie's value from a Cookie header without building a map of them all. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class CredentialAuthenticator implements Authenticator {
  /** Verified JWTs keyed by the presented string: the HMAC is checked once per token, not per request. */
  readonly #verified = new Map<string, VerifiedToken>();
  /** SHA-256 of session cookies seen lately: hashed once per cookie, not once per request. */
  readonly #cookieHashes = new Map<string, string>();
  readonly #idleMs: number;
  readonly #absoluteMs: number;

  constructor(
    private readonly config: Config,
    private readonly cache: AuthCache,
    private readonly codec: TokenCodec,
    private readonly activity: ActivityRecorder,
  ) {
    this.#idleMs = config.auth.sessionIdleSeconds * 1000;
    this.#absoluteMs = config.auth.sessionAbsoluteSeconds * 1000;
  }

  async authenticate(request: Request, accepts: readonly Credential[]): Promise<AuthResult> {
    if (accepts.includes("token")) {
      const header = request.headers.get("authorization");
      if (header !== null) return this.#fromToken(header);
    }
    if (accepts.includes("session")) {
      const cookie = readCookie(request.headers.get("cookie"), this.config.auth.cookieName);
      if (cookie !== undefined) return this.#fromSession(cookie);
    }
    return NOBODY;
  }

  async #fromToken(header: string): Promise<AuthResult> {
    const tried: Credential[] = ["token"];
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) return { principal: null, tried, failure: "Authorization header is not a Bearer token" };
    const presented = match[1]!;
    const now = Date.now();
    let verified = this.#verified.get(presented);
    if (verified === undefined) {
      const fresh = await this.codec.verify(presented);
      if (!fresh) return { principal: null, tried, failure: "token is malformed, tampered, expired or not ours" };
      if (this.#verified.size >= VERIFIED_CACHE_LIMIT) this.#verified.clear();
      this.#verified.set(presented, fresh);
      verified = fresh;
    }
    if (verified.expiresAt <= now) {
      this.#verified.delete(presented);
      return { principal: null, tried, failure: "token has expired" };
    }
    const record = await this.cache.token(verified.id);
    if (!record || record.userId !== verified.userId) return { principal: null, tried, failure: "token is unknown" };
    if (record.revoked) return { principal: null, tried, failure: "token is revoked" };
    if (record.expiresAt <= now) return { principal: null, tried, failure: "token has expired" };
    const user = await this.cache.user(record.userId);
    if (!user) return { principal: null, tried, failure: "token's owner no longer exists" };
    if (user.disabled) return { principal: null, tried, failure: "token's owner is disabled" };
    this.activity.tokenUsed(record.id, now);
    const principal: Principal = { id: user.id, username: user.username, groups: user.groups, via: "token", tokenId: record.id, tokenRoutes: record.routes };
    return { principal, tried };
  }

  async #fromSession(cookie: string): Promise<AuthResult> {
    const tried: Credential[] = ["session"];
    if (!looksLikeSessionId(cookie)) return { principal: null, tried, failure: "session cookie is malformed" };
    let idHash = this.#cookieHashes.get(cookie);
    if (idHash === undefined) {
      idHash = hashSessionId(cookie);
      if (this.#cookieHashes.size >= VERIFIED_CACHE_LIMIT) this.#cookieHashes.clear();
      this.#cookieHashes.set(cookie, idHash);
    }
    const session = await this.cache.session(idHash);
    if (!session) return { principal: null, tried, failure: "session is unknown or ended" };
    const now = Date.now();
    if (now - session.createdAt > this.#absoluteMs) return { principal: null, tried, failure: "session passed its absolute lifetime" };
    if (now - session.lastSeenAt > this.#idleMs) return { principal: null, tried, failure: "session was idle too long" };
    const user = await this.cache.user(session.userId);
    if (!user || user.disabled) return { principal: null, tried, failure: "session's user is disabled or removed" };
    if (this.activity.sessionSeen(idHash, now)) session.lastSeenAt = now;
    const principal: Principal = { id: user.id, username: user.username, groups: user.groups, via: "session" };
    return { principal, tried, session: { idHash, csrfToken: session.csrfToken, authenticatedAt: session.authenticatedAt } };
  }
}
