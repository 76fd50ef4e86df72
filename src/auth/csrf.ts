// Cross-site request forgery: a state-changing request that rides on the session cookie must come from our own
// origin and carry the session's CSRF token. Bearer-token requests carry no ambient authority and need neither.

/** Compare two secrets in constant time: hash both so the lengths match, then timingSafeEqual. */
export function secretsEqual(expected: string, presented: string): boolean {
  const a = new Bun.CryptoHasher("sha256").update(expected).digest();
  const b = new Bun.CryptoHasher("sha256").update(presented).digest();
  return crypto.timingSafeEqual(a, b);
}

export const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Why the request's origin is not ours, or null when it is. Origin must match; without it, Referer must. */
export function foreignOrigin(request: Request, publicOrigin: string): string | null {
  const origin = request.headers.get("origin");
  if (origin !== null) return origin === publicOrigin ? null : `Origin ${JSON.stringify(origin.slice(0, 100))} is not ${publicOrigin}`;
  const referer = request.headers.get("referer");
  if (referer === null) return "neither Origin nor Referer was sent";
  try {
    return new URL(referer).origin === publicOrigin ? null : "Referer is from another origin";
  } catch {
    return "Referer is not a URL";
  }
}

/** The CSRF token a request presents: the X-CSRF-Token header, or a form's `_csrf` field. */
export function presentedCsrfToken(request: Request, form: { get(name: string): string | null } | undefined): string | null {
  return request.headers.get("x-csrf-token") ?? form?.get("_csrf") ?? null;
}
