// The handler API that route modules under routes/ use (imported as `from "endpoint"`): a typed helper that
// bundles optional request and response schemas (Elysia's `t`) with the function that answers. The route table
// mounts these; nothing else is a handler.
import type { Static, TSchema } from "elysia";
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { Actor } from "../accounts/audit.ts";
import type { RefusalReason } from "../auth/guard.ts";
import type { Principal } from "../auth/principal.ts";
import { HANDLER_MARK, hasHandlerMark } from "../config/handler-mark.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../logger.ts";
import type { InputFields } from "../server/input.ts";
import type { EndpointServices } from "../server/services.ts";

/** What a handler receives: the request, already validated, and the services it may use. */
export interface HandlerContext<Params, Query, Body, Caller extends Principal | null = Principal | null> {
  params: Params;
  query: Query;
  body: Body;
  /** Who is calling: null only on a public route called anonymously (never with `signedIn: true`). */
  caller: Caller;
  /** For a caller signed in by the session cookie: the session (its hash) and the CSRF token forms must carry. */
  session: { idHash: string; csrfToken: string; authenticatedAt: number } | null;
  /**
   * A urlencoded form body, for handlers that declare no JSON body (already checked against CSRF). `form.get(name)`
   * throws a 422 for a value PostgreSQL would refuse (NUL), naming the field.
   */
  form: InputFields | undefined;
  /** The query string's values, read with the same checks as `form` (`query` is for handlers that declare a schema). */
  searchParams: InputFields;
  /** The caller as the accounts core sees them (audit name, door, sudo mode), or null when anonymous. */
  actor: Caller extends Principal ? Actor : Actor | null;
  /** The client's address, taken from X-Forwarded-For only as far as the trusted proxies allow. */
  clientAddress: string | undefined;
  db: Kysely<Database>;
  /** What Endpoint's own routes use (token codec, auth cache, password checks, the route table…). */
  services: EndpointServices;
  config: Config;
  log: Logger;
  request: Request;
  requestId: string;
  /**
   * Name why this handler answers 401 or 403 (a wrong password, a wrong code), for `endpoint_auth_failures_total`:
   * one of a fixed set, so the label stays bounded. A 401 or 403 a handler does not name counts as `other`. Call it
   * on the context (`context.refusedAs("wrong_password")`): it is a method.
   */
  refusedAs(reason: RefusalReason): void;
}

type Input<S> = S extends TSchema ? Static<S> : undefined;

export interface HandlerSpec<
  P extends TSchema | undefined,
  Q extends TSchema | undefined,
  B extends TSchema | undefined,
  S extends boolean,
> {
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The JSON answer's shape, for the OpenAPI document; checked against every answer in development and tests
   * (a mismatch answers 500 and is logged), not in production.
   */
  response?: TSchema;
  /**
   * `true`: this handler serves signed-in callers only, so `caller` is never null. A route whose rule is
   * `public: true` cannot use it (`validate` says so).
   */
  signedIn?: S;
  /** Returns a JSON value, `created(…)`, `html(…)` for a page, or a Response. A plain string is sent as JSON. */
  handle(context: HandlerContext<Input<P>, Input<Q>, Input<B>, S extends true ? Principal : Principal | null>): unknown | Promise<unknown>;
}

const HANDLER = HANDLER_MARK;

export interface Handler {
  readonly [HANDLER]: true;
  readonly params?: TSchema;
  readonly query?: TSchema;
  readonly body?: TSchema;
  readonly response?: TSchema;
  readonly signedIn?: boolean;
  handle(context: HandlerContext<any, any, any, any>): unknown | Promise<unknown>;
}

/**
 * Define a route handler.
 *
 * @example
 * // routes/hooks.ts
 * import { defineHandler, t } from "endpoint";
 * export const receive = defineHandler({
 *   signedIn: true,
 *   body: t.Object({ event: t.String({ maxLength: 64 }) }),
 *   response: t.Object({ received: t.String(), by: t.String() }),
 *   handle: ({ body, caller }) => ({ received: body.event, by: caller.username }),
 * });
 */
export function defineHandler<
  P extends TSchema | undefined = undefined,
  Q extends TSchema | undefined = undefined,
  B extends TSchema | undefined = undefined,
  S extends boolean = false,
>(spec: HandlerSpec<P, Q, B, S>): Handler {
  return Object.freeze({ ...spec, [HANDLER]: true as const }) as unknown as Handler;
}

/** True for values made by defineHandler: the only exports a route may name. */
export function isHandler(value: unknown): value is Handler {
  return hasHandlerMark(value);
}
