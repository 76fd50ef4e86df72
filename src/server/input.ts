// Reading a request's input, in one place: path parameters, query values and JSON bodies checked against the
// handler's schemas, and urlencoded forms. PostgreSQL refuses some characters in text (NUL) and would answer with
// an error, so a value holding one is refused here, by name, as a 422 the page or the API shows ("the form is not
// valid: /form/username must not contain NUL characters"), before it can reach a query.
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

export async function readBody(entry: Route, request: Request, limitBytes: number): Promise<unknown> {
  if (!entry.validators.body) return undefined;
  if (!METHODS_WITH_BODY.has(request.method)) return undefined;
  // JSON routes parse JSON only: a cross-site form post (urlencoded, multipart, text/plain) is refused here.
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    throw new EndpointError("unsupported_media_type", 415, "send the body as application/json");
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const text = await request.text();
  if (Buffer.byteLength(text) > limitBytes) throw tooLarge(limitBytes);
  if (text.trim() === "") throw new EndpointError("malformed_body", 400, "the request body is empty; send a JSON document");
  // PostgreSQL refuses NUL in text; refuse it here with a clear answer instead of a failed query later.
  if (text.includes("\\u0000"))
    throw new EndpointError("invalid_input", 422, "the request's body is not valid", [{ path: "/body", message: "strings must not contain NUL characters" }]);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new EndpointError("malformed_body", 400, "the request body is not valid JSON");
  }
  return check(entry.validators.body, body, "body", "body");
}

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
