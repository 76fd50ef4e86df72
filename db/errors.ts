// Failures of the database layer, with messages safe to show a person: no SQL, no stack, no password.

export type DatabaseFailure = "unreachable" | "missing" | "auth" | "in-use" | "bad-url" | "schema";

export class DatabaseError extends Error {
  constructor(
    readonly failure: DatabaseFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DatabaseError";
  }
}

/** SQLSTATE of a driver error (postgres.js and PGlite both carry it as `code`), if any. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export const isUniqueViolation = (error: unknown) => sqlState(error) === "23505";
export const isForeignKeyViolation = (error: unknown) => sqlState(error) === "23503";

/** Whether the error means the server could not be reached or the connection was lost (not a bad query). */
export function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  if (/^(08|57P)/.test(code)) return true; // connection exception, operator intervention (shutdown)
  return ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "EPIPE", "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "QUERY_TIMEOUT"].includes(code);
}
