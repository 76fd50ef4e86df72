// Marks a handler's result as an HTML page. Pages are sent as HTML only through html(): a plain string from a
// handler is JSON, never sniffed as markup (the trap @elysiajs/html's autoDetect sets).

const HTML = Symbol.for("endpoint.html");

export interface HtmlPage {
  readonly [HTML]: true;
  readonly body: string | Promise<string>;
  readonly status: number;
}

/** Send rendered JSX as a page. @example return html(<Layout title="Home"><p>Hello</p></Layout>); */
export function html(body: string | Promise<string>, status = 200): HtmlPage {
  return { [HTML]: true, body, status };
}

export function isHtmlPage(value: unknown): value is HtmlPage {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[HTML] === true;
}
