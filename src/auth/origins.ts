// Which hosts the server answers for, and which Origin a cookie-authenticated change may come from (Django's rules).
// Hosts: server.public_url's and server.allowed_hosts (`example.com`, `.example.com` for it and its subdomains, a port
// only when written); in development also the loopback names (localhost, 127.0.0.1, [::1]) on the port actually
// listened on. In production a request addressed to any other host is refused before routing (a forged Host must not
// reach pages, links or caches). Origins: a change must come from the origin it was addressed to, when that host is
// one the server answers for; anything else must come from public_url's origin.

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** `host[:port]` as a request URL spells it (Bun builds the URL from the Host header), lower-cased. */
export function hostOf(url: string): string {
  const start = url.indexOf("//") + 2;
  const end = url.indexOf("/", start);
  return url.slice(start, end === -1 ? undefined : end).toLowerCase();
}

/** The host name without its port (`[::1]:8000` → `[::1]`). */
function withoutPort(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.indexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

/** Host spellings answered before, as requests wrote them: a production request is then one Set lookup. */
const KNOWN_SPELLINGS_KEPT = 32;

export class AcceptedOrigins {
  /** host[:port] as the request URL spells it → the origin a form served from it posts with. */
  readonly #byHost = new Map<string, string>();
  /** Host names (any port) and `.suffix` patterns the server answers for. */
  readonly #names = new Set<string>();
  readonly #suffixes: string[] = [];
  /** Exact `host[:port]` texts (as sent, any case) already found acceptable; bounded, and never a refused one. */
  readonly #answered = new Set<string>();
  readonly #scheme: string;
  #enforced = false;
  readonly publicOrigin: string;

  constructor(publicUrl: string, allowedHosts: readonly string[] = []) {
    const url = new URL(publicUrl);
    this.publicOrigin = url.origin;
    this.#scheme = url.protocol;
    this.#byHost.set(url.host, url.origin);
    this.#names.add(url.hostname.toLowerCase());
    for (const entry of allowedHosts) {
      const host = entry.toLowerCase();
      if (host.startsWith(".")) this.#suffixes.push(host);
      else if (withoutPort(host) === host) this.#names.add(host);
      else this.#byHost.set(host, `${this.#scheme}//${host}`);
    }
  }

  /** Development: also answer for the loopback names on `port`. */
  allowLoopback(port: number): void {
    for (const name of LOOPBACK_NAMES) this.#byHost.set(`${name}:${port}`, `http://${name}:${port}`);
  }

  /** Production: refuse requests addressed to a host the server does not answer for. */
  enforceHosts(): void {
    this.#enforced = true;
  }

  /** Whether the server answers for the host `request` was addressed to (always, unless enforced). */
  answersFor(request: Request): boolean {
    if (!this.#enforced) return true;
    const url = request.url;
    const start = url.indexOf("//") + 2;
    const end = url.indexOf("/", start);
    const spelled = url.slice(start, end === -1 ? undefined : end);
    if (this.#answered.has(spelled)) return true;
    const known = this.#knows(spelled.toLowerCase());
    if (known && this.#answered.size < KNOWN_SPELLINGS_KEPT) this.#answered.add(spelled);
    return known;
  }

  /** The Origin a cookie-authenticated change to `request` must carry. */
  expectedFor(request: Request): string {
    const host = hostOf(request.url);
    return this.#byHost.get(host) ?? (this.#knows(host) ? `${this.#scheme}//${host}` : this.publicOrigin);
  }

  #knows(host: string): boolean {
    if (this.#byHost.has(host)) return true;
    const name = withoutPort(host);
    return this.#names.has(name) || this.#suffixes.some((suffix) => name === suffix.slice(1) || name.endsWith(suffix));
  }
}
