// created(): a handler's way to answer 201 Created with a JSON body and, optionally, where the new thing lives.

const CREATED = Symbol.for("endpoint.created");

export interface Created {
  readonly [CREATED]: true;
  readonly body: unknown;
  readonly location?: string;
}

/** Answer 201 with `body` as JSON. @example return created({ id }, `/things/${id}`); */
export function created(body: unknown, location?: string): Created {
  return { [CREATED]: true, body, location };
}

export function isCreated(value: unknown): value is Created {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[CREATED] === true;
}
