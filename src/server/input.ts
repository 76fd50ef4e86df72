// The one place form fields and query values are read. PostgreSQL refuses some characters in text (NUL) and
// would answer with an error, so a value holding one is refused here, by name, as a 422 the page or the API shows
// ("the form is not valid: /form/username must not contain NUL characters"), before it can reach a query.
import { EndpointError } from "../errors.ts";

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
