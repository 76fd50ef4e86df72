// Resolves the principal from the credentials a route accepts: the session cookie, or a bearer token in the
// Authorization header (never a query parameter). Everything it needs is in the AuthCache, so in the common case
// no database round trip is made.
import type { Config } from "../config/schema.ts";
import type { ActivityRecorder } from "./activity.ts";
import type { AuthCache, TokenRecord, UserRecord as CachedUser } from "./auth-cache.ts";
import type { AuthResult, Authenticator } from "./authenticator.ts";
import type { Credential, Principal } from "./principal.ts";
import { hashSessionId, looksLikeSessionId } from "./sessions.ts";
import type { TokenCodec, VerifiedToken } from "./token-codec.ts";

const NOBODY: AuthResult = Object.freeze({ principal: null, tried: [] });
const TOKEN: Credential[] = ["token"];
const SESSION: Credential[] = ["session"];

/** `next(value)`, without a promise when `value` is not one. */
function after<T, R>(value: T | Promise<T>, next: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
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

/** The token in `Authorization: Bearer <token>` (scheme in any case, spaces around it tolerated), or null. */
function bearerToken(header: string): string | null {
  if (header.length < 8 || header.slice(0, 7).toLowerCase() !== "bearer ") return null;
  const token = header.slice(7).trim();
  return token === "" || /\s/.test(token) ? null : token;
}

export class CredentialAuthenticator implements Authenticator {
  /**
   * Verified JWTs keyed by the whole Authorization header as sent: the HMAC is checked once per token, and a cached
   * token's header is not even parsed again (the floor's cost for a token is one map lookup; so is ours).
   */
  readonly #verified = new Map<string, VerifiedToken>();
  /** SHA-256 of session cookies seen lately: hashed once per cookie, not once per request. */
  readonly #cookieHashes = new Map<string, string>();
  readonly #tokenPrincipals = new WeakMap<CachedUser, WeakMap<TokenRecord, Principal>>();
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

  authenticate(request: Request, accepts: readonly Credential[]): AuthResult | Promise<AuthResult> {
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

  // Answered without a promise when the token, its record and its owner are cached (the common case): each
  // await would be a turn of the event loop on every request.
  #fromToken(header: string): AuthResult | Promise<AuthResult> {
    const verified = this.#verified.get(header);
    if (verified !== undefined) return this.#verifiedToken(header, verified);
    const presented = bearerToken(header);
    if (presented === null) return { principal: null, tried: TOKEN, failure: "Authorization header is not a Bearer token" };
    return this.codec.verify(presented).then((fresh) => {
      if (!fresh) return { principal: null, tried: TOKEN, failure: "token is malformed, tampered, expired or not ours" };
      if (this.#verified.size >= VERIFIED_CACHE_LIMIT) this.#verified.clear();
      this.#verified.set(header, fresh);
      return this.#verifiedToken(header, fresh);
    });
  }

  #verifiedToken(header: string, verified: VerifiedToken): AuthResult | Promise<AuthResult> {
    const now = this.cache.clock.now(); // expiries are database times (the JWT's exp is the row's expires_at)
    if (verified.expiresAt <= now) {
      this.#verified.delete(header);
      return { principal: null, tried: TOKEN, failure: "token has expired" };
    }
    return after(this.cache.token(verified.id), (record) => {
      if (!record || record.userId !== verified.userId) return { principal: null, tried: TOKEN, failure: "token is unknown" };
      if (record.revoked) return { principal: null, tried: TOKEN, failure: "token is revoked" };
      if (record.expiresAt <= now) return { principal: null, tried: TOKEN, failure: "token has expired" };
      return after(this.cache.user(record.userId), (user): AuthResult => {
        if (!user) return { principal: null, tried: TOKEN, failure: "token's owner no longer exists" };
        if (user.disabled) return { principal: null, tried: TOKEN, failure: "token's owner is disabled" };
        this.activity.tokenUsed(record.id, now);
        return { principal: this.#tokenPrincipal(user, record), tried: TOKEN };
      });
    });
  }

  /**
   * The principal of a token, made once per (cached user, token record) pair: the cache replaces those objects when
   * they change, so a WeakMap keyed by them can never answer with stale groups.
   */
  #tokenPrincipal(user: CachedUser, record: TokenRecord): Principal {
    let byToken = this.#tokenPrincipals.get(user);
    if (!byToken) this.#tokenPrincipals.set(user, (byToken = new WeakMap()));
    let principal = byToken.get(record);
    if (!principal) {
      principal = Object.freeze({ id: user.id, username: user.username, groups: user.groups, via: "token", tokenId: record.id, tokenRoutes: record.routes });
      byToken.set(record, principal);
    }
    return principal;
  }

  #fromSession(cookie: string): AuthResult | Promise<AuthResult> {
    if (!looksLikeSessionId(cookie)) return { principal: null, tried: SESSION, failure: "session cookie is malformed" };
    let idHash = this.#cookieHashes.get(cookie);
    if (idHash === undefined) {
      idHash = hashSessionId(cookie);
      if (this.#cookieHashes.size >= VERIFIED_CACHE_LIMIT) this.#cookieHashes.clear();
      this.#cookieHashes.set(cookie, idHash);
    }
    const hash = idHash;
    return after(this.cache.session(hash), (session) => {
      if (!session) return { principal: null, tried: SESSION, failure: "session is unknown or ended" };
      const now = this.cache.clock.now(); // the session's times are the database's, and so is its idea of now
      if (now - session.createdAt > this.#absoluteMs) return { principal: null, tried: SESSION, failure: "session passed its absolute lifetime" };
      if (now - session.lastSeenAt > this.#idleMs) return { principal: null, tried: SESSION, failure: "session was idle too long" };
      return after(this.cache.user(session.userId), (user): AuthResult => {
        if (!user || user.disabled) return { principal: null, tried: SESSION, failure: "session's user is disabled or removed" };
        if (this.activity.sessionSeen(hash, now)) session.lastSeenAt = now;
        const principal: Principal = { id: user.id, username: user.username, groups: user.groups, via: "session" };
        // authenticatedAt leaves in this machine's time: the sudo window (actorFor) compares it with Date.now().
        const authenticatedAt = this.cache.clock.toLocal(session.authenticatedAt);
        return { principal, tried: SESSION, session: { idHash: hash, csrfToken: session.csrfToken, authenticatedAt } };
      });
    });
  }
}
