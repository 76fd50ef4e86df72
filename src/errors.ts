// The kinds of expected failure: each has a stable code, an HTTP status and one sentence a person can act on.
// Unexpected errors are not EndpointErrors; the server logs them and answers 500 with a request id only.

export interface FieldError {
  /** JSON pointer-ish path of the offending field, e.g. "/body/username". */
  path: string;
  message: string;
}

export class EndpointError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly fields?: FieldError[],
  ) {
    super(message);
    this.name = "EndpointError";
  }
}

export const notFound = (what: string) => new EndpointError("not_found", 404, `${what} does not exist`);
export const conflict = (code: string, message: string) => new EndpointError(code, 409, message);
export const invalid = (code: string, message: string, fields?: FieldError[]) =>
  new EndpointError(code, 422, message, fields);
export const unavailable = (message: string) => new EndpointError("unavailable", 503, message);
