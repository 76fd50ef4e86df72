// Where to send a browser after login: only a path on this site, never another origin (no open redirect).

export const DEFAULT_AFTER_LOGIN = "/";

/** `next` when it is a same-site path (kept with its query), else the default page. */
export function safeNextPath(next: string | null | undefined, publicUrl: string): string {
  if (!next || next.length > 2048) return DEFAULT_AFTER_LOGIN;
  // Browsers treat "\" as "/" and ignore tabs and newlines: "/\evil.com" and "/\t/evil.com" are other sites.
  if (!next.startsWith("/") || next.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(next)) return DEFAULT_AFTER_LOGIN;
  try {
    const base = new URL(publicUrl);
    const resolved = new URL(next, base);
    if (resolved.origin !== base.origin) return DEFAULT_AFTER_LOGIN;
    if (resolved.pathname.startsWith("//")) return DEFAULT_AFTER_LOGIN;
    return resolved.pathname + resolved.search;
  } catch {
    return DEFAULT_AFTER_LOGIN;
  }
}
