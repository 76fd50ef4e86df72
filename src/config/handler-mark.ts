// The mark defineHandler puts on a handler, so the config loader can tell a handler export from anything else
// without importing the handler API (config sits below it).

export const HANDLER_MARK = Symbol.for("endpoint.handler");

/** True for values made by defineHandler: the only exports a route may name. */
export function hasHandlerMark(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[HANDLER_MARK] === true;
}
