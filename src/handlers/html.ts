// Marks a handler's result as an HTML page. Pages are sent as HTML only through html(): a plain string from a
// handler is JSON, never sniffed as markup (the trap @elysiajs/html's autoDetect sets).

const HTML = Symbol.for("endpoint.html");

export interface HtmlPage {
  readonly [HTML]: true;
  readonly body: string | Promise<string>;
  readonly status: number;
  /** Extra response headers (e.g. Retry-After on a 429 page). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Send rendered JSX as a page. @example return html(<Layout title="Home"><p>Hello</p></Layout>); */
export function html(body: string | Promise<string>, status = 200, headers?: Record<string, string>): HtmlPage {
  return { [HTML]: true, body, status, headers };
}

export function isHtmlPage(value: unknown): value is HtmlPage {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[HTML] === true;
}
