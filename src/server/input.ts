// Reading a request's input, in one place: path parameters, query values and JSON bodies checked against the
// handler's schemas, and urlencoded forms. PostgreSQL refuses some characters in text (NUL) and would answer with
// an error, so a value holding one is refused here, by name, as a 422 the page or the API shows ("the form is not
// valid: /form/username must not contain NUL characters"), before it can reach a query. JSON is also refused,
// before it is parsed, when it nests too deep, starts with a byte order mark, or repeats a key.
import type { TSchema } from "@sinclair/typebox";
import type { TypeCheck } from "@sinclair/typebox/compiler";
import { EndpointError, type FieldError } from "../errors.ts";
import type { Route } from "./route.ts";

/** Methods whose requests may carry a body. */
export const METHODS_WITH_BODY = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Characters PostgreSQL's text type cannot hold. */
const REFUSED_CHARACTERS = /\u0000/;

export class InputFields {
  constructor(
    private readonly values: URLSearchParams,
    /** "form" or "query": where the values came from, for the field path in messages. */
    private readonly where: "form" | "query",
  ) {}

  /** The value of `name` (the first, if given twice), or null; throws a 422 for a value PostgreSQL would refuse. */
  get(name: string): string | null {
    const value = this.values.get(name);
    if (value !== null && REFUSED_CHARACTERS.test(value)) throw refused(this.where, name);
    return value;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Every field, checked, for carrying a form through a confirmation page; `except` names are left out. */
  entries(except: readonly string[] = []): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const [name, value] of this.values) {
      if (except.includes(name)) continue;
      if (REFUSED_CHARACTERS.test(value) || REFUSED_CHARACTERS.test(name)) throw refused(this.where, name);
      out.push([name, value]);
    }
    return out;
  }

  /** A copy without the named fields. */
  without(...names: string[]): InputFields {
    const copy = new URLSearchParams(this.values);
    for (const name of names) copy.delete(name);
    return new InputFields(copy, this.where);
  }
}

const fieldName = (name: string) => (name.length > 64 ? `${name.slice(0, 64)}…` : name).replace(/[^\w.-]/g, "?");

function refused(where: "form" | "query", name: string): EndpointError {
  const path = `/${where}/${fieldName(name)}`;
  return new EndpointError("invalid_input", 422, `the ${where === "form" ? "form" : "address's query"} is not valid: ${path} must not contain NUL characters`, [
    { path, message: "must not contain NUL characters" },
  ]);
}

/** A query string's values, read through the same checks as forms. */
export const queryFields = (request: Request) => new InputFields(new URL(request.url).searchParams, "query");

function check(validator: TypeCheck<TSchema>, value: unknown, where: string, what: string): unknown {
  if (validator.Check(value)) {
    // Elysia's t.Integer, t.Numeric… accept text and turn it into numbers while decoding, checking ranges then.
    try {
      return validator.Decode(value);
    } catch (error) {
      const failure = error as { path?: string; error?: { valueError?: { path?: string; message?: string } } };
      const path = failure.path || failure.error?.valueError?.path || "";
      const message = failure.error?.valueError?.message ?? "is not valid";
      throw new EndpointError("invalid_input", 422, `the request's ${what} is not valid`, [{ path: `/${where}${path}`, message }]);
    }
  }
  const fields: FieldError[] = [];
  for (const issue of validator.Errors(value)) {
    // Name the field and the rule it broke, never the value that was sent (it may be a password).
    fields.push({ path: `/${where}${issue.path}`, message: issue.message });
    if (fields.length >= 20) break;
  }
  throw new EndpointError("invalid_input", 422, `the request's ${what} is not valid`, fields);
}

export function validateParams(entry: Route, params: Record<string, string>): unknown {
  for (const key in params)
    if (params[key]!.includes("\u0000"))
      throw new EndpointError("invalid_input", 422, "the request's path parameters are not valid", [{ path: `/params/${key}`, message: "must not contain NUL characters" }]);
  if (!entry.validators.params) return params;
  return check(entry.validators.params, coerceNumbers(entry.handler.params!, params), "params", "path parameters");
}

export function validateQuery(entry: Route, request: Request): unknown {
  if (!entry.validators.query) return {};
  const query: Record<string, string> = {};
  const search = new URL(request.url).searchParams;
  for (const [key, value] of search) {
    if (value.includes("\u0000"))
      throw new EndpointError("invalid_input", 422, "the request's query is not valid", [{ path: `/query/${key}`, message: "must not contain NUL characters" }]);
    if (Object.hasOwn(query, key))
      throw new EndpointError("invalid_input", 422, "the request's query is not valid", [{ path: `/query/${key}`, message: "given more than once" }]);
    query[key] = value;
  }
  return check(entry.validators.query, coerceNumbers(entry.handler.query!, query), "query", "query");
}

/** Path and query values arrive as text; turn the ones the schema declares numeric or boolean into those types. */
function coerceNumbers(schema: TSchema, values: Record<string, string>): Record<string, unknown> {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const out: Record<string, unknown> = { ...values };
  for (const [key, value] of Object.entries(values)) {
    const type = properties[key]?.type;
    if ((type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(value)) out[key] = Number(value);
    else if (type === "boolean" && (value === "true" || value === "false")) out[key] = value === "true";
  }
  return out;
}

/** The limits a JSON body is read under (config.server's). */
export interface JsonLimits {
  bodyLimitBytes: number;
  /** How deep arrays and objects may nest (server.json_max_depth). */
  jsonMaxDepth: number;
}

/**
 * A JSON body, checked in this order: media type (415), size (413), a byte order mark or bytes that are not UTF-8
 * (400), nesting depth and NUL characters (422, found by one linear scan before JSON.parse ever sees the text),
 * syntax (400), repeated keys (422), then the handler's schema (422).
 */
export async function readBody(entry: Route, request: Request, limits: JsonLimits): Promise<unknown> {
  if (!entry.validators.body) return undefined;
  if (!METHODS_WITH_BODY.has(request.method)) return undefined;
  // JSON routes parse JSON only: a cross-site form post (urlencoded, multipart, text/plain) is refused here.
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    throw new EndpointError("unsupported_media_type", 415, "send the body as application/json");
  const limitBytes = limits.bodyLimitBytes;
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  // Bytes, not request.text(): decoding text drops a byte order mark without a word, and JSON must not have one.
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > limitBytes) throw tooLarge(limitBytes);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    throw new EndpointError("json_bom", 400, "the request body starts with a byte order mark (BOM); send the JSON without one");
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new EndpointError("malformed_body", 400, "the request body is not valid UTF-8; send JSON encoded as UTF-8");
  }
  if (text.trim() === "") throw new EndpointError("malformed_body", 400, "the request body is empty; send a JSON document");
  const { duplicateKey } = scanJson(text, limits.jsonMaxDepth);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new EndpointError("malformed_body", 400, "the request body is not valid JSON");
  }
  if (duplicateKey !== null)
    throw new EndpointError("json_duplicate_key", 422, `the request body gives the key ${duplicateKey} more than once; send each key once`, [
      { path: duplicateKey, message: "given more than once" },
    ]);
  return check(entry.validators.body, body, "body", "body");
}

/** Strict: a byte that is not UTF-8 is refused, not turned into U+FFFD. The BOM is refused before this runs. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

const QUOTE = 0x22;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * One pass over JSON text, before it is parsed, that never recurses and keeps no more than the keys of the objects
 * still open:
 * - nesting deeper than `maxDepth` arrays and objects is refused at once (422 json_too_deep), so a body of 30,000
 *   `[` costs a few dozen steps, not a parse and a deep walk;
 * - a NUL character (`\u0000`, in a value or a key) is refused (422), since PostgreSQL cannot store it in text;
 * - the first key an object repeats is reported (as a field path), for the caller to refuse once the text is known to
 *   be JSON. JSON.parse would keep the last one, and a proxy or firewall in front may have read the first.
 * Brackets, quotes and backslashes inside strings are skipped with the string. Text that is not JSON is left for
 * JSON.parse to refuse; nothing here is fooled into more than one pass by it.
 */
function scanJson(text: string, maxDepth: number): { duplicateKey: string | null } {
  // One entry per open array or object: an object's keys so far (null for an array), and where in it we are
  // (the current key, or the array index), for naming a repeated key's path.
  const keys: Array<Set<string> | null> = [];
  const at: Array<string | number> = [];
  let expectKey = false;
  let duplicateKey: string | null = null;
  const length = text.length;
  // Strings are skipped with indexOf (native, many times faster than a loop in JavaScript). The next backslash is
  // kept from one string to the next, so the text is searched for backslashes once in all, not once per string.
  let nextBackslash = text.indexOf("\\");
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      let end = text.indexOf('"', i + 1);
      if (nextBackslash !== -1 && nextBackslash <= i) nextBackslash = text.indexOf("\\", i + 1);
      while (nextBackslash !== -1 && end !== -1 && nextBackslash < end) {
        escaped = true;
        if (text.startsWith("u0000", nextBackslash + 1)) throw nulInBody();
        const after = nextBackslash + 2; // past the escaped character, a quote or a backslash included
        if (after > end) end = text.indexOf('"', after);
        nextBackslash = text.indexOf("\\", after);
      }
      i = end === -1 ? length : end;
      if (expectKey) {
        expectKey = false;
        if (duplicateKey === null) {
          const key = escaped ? decodeKey(text.slice(start, i + 1)) : text.slice(start + 1, i);
          const seen = keys[keys.length - 1]!;
          if (seen.has(key)) duplicateKey = bodyPath([...at.slice(0, -1), key]);
          else {
            seen.add(key);
            at[at.length - 1] = key;
          }
        }
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (keys.length >= maxDepth) throw tooDeep(maxDepth);
      const object = c === OPEN_OBJECT;
      keys.push(object ? new Set() : null);
      at.push(object ? "" : 0);
      expectKey = object;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      keys.pop();
      at.pop();
      expectKey = false;
    } else if (c === COMMA && keys.length > 0) {
      if (keys[keys.length - 1]) expectKey = true;
      else at[at.length - 1] = (at[at.length - 1] as number) + 1;
    }
  }
  return { duplicateKey };
}

/** A key with escapes, as JSON.parse will read it (`"\u0061"` and `"a"` are the same key). */
function decodeKey(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted; // not JSON: JSON.parse refuses the whole body next
  }
}

/** `/body/a/0/b`, each segment shown as form fields are (at most 64 characters, odd ones as `?`). */
const bodyPath = (segments: Array<string | number>) => `/body${segments.map((s) => `/${fieldName(String(s))}`).join("")}`;

const tooDeep = (maxDepth: number) =>
  new EndpointError("json_too_deep", 422, `the request body nests arrays and objects more than ${maxDepth} levels deep (server.json_max_depth)`, [
    { path: "/body", message: `nested more than ${maxDepth} levels deep` },
  ]);

// PostgreSQL refuses NUL in text; refuse it here with a clear answer instead of a failed query later.
const nulInBody = () =>
  new EndpointError("invalid_input", 422, "the request's body is not valid", [{ path: "/body", message: "strings must not contain NUL characters" }]);

/** A urlencoded form body (login, logout and admin forms); other bodies are left for the handler. */
export async function readForm(request: Request, limitBytes: number): Promise<InputFields | undefined> {
  if (!METHODS_WITH_BODY.has(request.method)) return undefined;
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return undefined;
  if (Number(request.headers.get("content-length") ?? 0) > limitBytes) throw tooLarge(limitBytes);
  const text = await request.text();
  if (Buffer.byteLength(text) > limitBytes) throw tooLarge(limitBytes);
  return new InputFields(new URLSearchParams(text), "form");
}

const tooLarge = (limitBytes: number) =>
  new EndpointError("body_too_large", 413, `the request body is larger than the limit of ${limitBytes} bytes`);
