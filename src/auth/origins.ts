// Which Origin a cookie-authenticated change may come from: the origin the request was addressed to, when that host
// is one the server answers for (Django's rule). That is server.public_url's host, and in development also the
// loopback names (localhost, 127.0.0.1, [::1]) on the port actually listened on, so a form opened at the address the
// terminal prints can be submitted. Anything else must come from public_url's origin.

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

export class AcceptedOrigins {
  /** host[:port] as the request URL spells it → the origin a form served from it posts with. */
  readonly #byHost = new Map<string, string>();
  readonly publicOrigin: string;

  constructor(publicUrl: string) {
    const url = new URL(publicUrl);
    this.publicOrigin = url.origin;
    this.#byHost.set(url.host, url.origin);
  }

  /** Development: also answer for the loopback names on `port`. */
  allowLoopback(port: number): void {
    for (const name of LOOPBACK_NAMES) this.#byHost.set(`${name}:${port}`, `http://${name}:${port}`);
  }

  /** The Origin a cookie-authenticated change to `request` must carry. */
  expectedFor(request: Request): string {
    const url = request.url;
    const start = url.indexOf("//") + 2;
    const end = url.indexOf("/", start);
    return this.#byHost.get(url.slice(start, end === -1 ? undefined : end).toLowerCase()) ?? this.publicOrigin;
  }
}
