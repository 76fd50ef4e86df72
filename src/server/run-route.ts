// One request through one route: guard → input validation → handler → answer. Every mounted route, built-in or
// declared, runs through runRoute; nothing reaches a handler any other way.
import type { Kysely } from "kysely";
import { isConnectionFailure } from "../../db/errors.ts";
import type { Database } from "../../db/schema.ts";
import type { Actor } from "../accounts/audit.ts";
import { ReauthRequired } from "../accounts/sudo.ts";
import { actorFor } from "../auth/actor.ts";
import type { AuthResult, Authenticator } from "../auth/authenticator.ts";
import type { PasswordChecker } from "../auth/password-check.ts";
import { SAFE_METHODS, foreignOrigin, presentedCsrfToken, secretsEqual } from "../auth/csrf.ts";
import { decide } from "../auth/guard.ts";
import type { Config } from "../config/schema.ts";
import { EndpointError, type FieldError } from "../errors.ts";
import { html } from "../handlers/html.ts";
import { ConfirmPasswordPage, SUDO_PASSWORD_FIELD } from "../pages/confirm-password-page.tsx";
import { InputFields, queryFields } from "./input.ts";
import type { Logger } from "../logger.ts";
import type { RequestFacts } from "./request-context.ts";
import { type Problem, prefersHtml, problemResponse, valueResponse } from "./respond.ts";
import type { RouteEntry } from "./route-table.ts";
import type { TypeCheck } from "@sinclair/typebox/compiler";
import type { TSchema } from "@sinclair/typebox";

export interface RouteServices {
  config: Config;
  db: Kysely<Database>;
  log: Logger;
  authenticator: Authenticator;
  /** The client's address as far as the trusted proxies allow. */
  clientAddress: (request: Request) => string | undefined;
  /** scheme://host[:port] of server.public_url: the only Origin a cookie-authenticated change may come from. */
  publicOrigin: string;
  /** Checks a signed-in user's password again (sudo mode). */
  passwords: PasswordChecker;
}

const METHODS_WITH_BODY = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export async function runRoute(
  entry: RouteEntry,
  services: RouteServices,
  request: Request,
  params: Record<string, string>,
  facts: RequestFacts,
): Promise<Response> {
  facts.route = entry.name;
  const asHtml = prefersHtml(request);
  let auth: AuthResult | undefined;
  let form: InputFields | undefined;
  try {
    auth = await services.authenticator.authenticate(request, entry.rule.accepts);
    facts.principal = auth.principal;
    facts.authTried = auth.tried;
    const decision = decide(entry.rule, auth.principal);
    if (decision.outcome !== "allow") {
      facts.deniedBecause = auth.failure ? `${auth.failure}; ${decision.because}` : decision.because;
      return refuse(entry, decision.outcome, request, facts.requestId, asHtml);
    }

    const limit = services.config.server.bodyLimitBytes;
    form = entry.validators.body ? undefined : await readForm(request, limit);
    if (auth.session && !SAFE_METHODS.has(request.method)) {
      const refusal = csrfRefusal(request, services, auth.session.csrfToken, form);
      if (refusal) {
        facts.deniedBecause = refusal;
        return problemResponse({ status: 403, code: "csrf_failed", detail: "this request did not come from a page of this site; reload the page and try again" }, facts.requestId, asHtml);
      }
      // Sudo mode's confirmation page posts the original form back with the password: check it, then go on.
      if (form?.has(SUDO_PASSWORD_FIELD)) {
        const password = form.get(SUDO_PASSWORD_FIELD) ?? "";
        form = form.without(SUDO_PASSWORD_FIELD);
        const check = await services.passwords.check(auth.principal!.username, password, services.clientAddress(request) ?? "unknown", auth.session.idHash);
        if (!check.ok) {
          facts.deniedBecause = `sudo: ${check.message}`;
          const page = await valueResponse(confirmPasswordPage(request, auth, form, "continue", check.status, check.message), facts.requestId, true);
          if (check.retryAfterSeconds) page.headers.set("Retry-After", String(check.retryAfterSeconds));
          return page;
        }
        auth.session.authenticatedAt = Date.now();
      }
    }

    let log: Logger | undefined;
    let searchParams: InputFields | undefined;
    let actor: Actor | null | undefined;
    const principal = auth.principal;
    const session = auth.session ?? null;
    const context = {
      params: validateParams(entry, params),
      query: validateQuery(entry, request),
      body: await readBody(entry, request, limit),
      form,
      // The query reader and the actor are made on first use: most handlers need neither.
      get searchParams() {
        return (searchParams ??= queryFields(request));
      },
      principal,
      session,
      get actor() {
        if (actor === undefined)
          actor = principal
            ? actorFor(principal, {
                source: entry.path.startsWith("/api/") ? "api" : "web",
                clientAddress: services.clientAddress(request) ?? null,
                session,
                reauthAfterSeconds: services.config.auth.reauthAfterSeconds,
              })
            : null;
        return actor;
      },
      get clientAddress() {
        return services.clientAddress(request);
      },
      db: services.db,
      config: services.config,
      // Made on first use: most handlers never log.
      get log() {
        return (log ??= services.log.child({ request_id: facts.requestId, route: entry.name }));
      },
      request,
      requestId: facts.requestId,
    };
    // Answers that depend on who asked must not be kept by shared caches or the browser's history.
    return await valueResponse(await entry.handler.handle(context), facts.requestId, auth.principal !== null);
  } catch (error) {
    // A page form that needs a fresh password: ask for it, carrying the form, instead of an error page.
    if (error instanceof ReauthRequired && asHtml && auth?.session && form && request.method === "POST") {
      facts.deniedBecause = "sudo: password confirmation required";
      try {
        return await valueResponse(confirmPasswordPage(request, auth, form, error.what, 403), facts.requestId, true);
      } catch (inner) {
        return errorResponse(inner, services.log, facts, asHtml);
      }
    }
    return errorResponse(error, services.log, facts, asHtml);
  }
}

function confirmPasswordPage(request: Request, auth: AuthResult, form: InputFields, what: string, status: number, error?: string) {
  const url = new URL(request.url);
  return html(
    ConfirmPasswordPage({ principal: auth.principal!, csrfToken: auth.session!.csrfToken, action: url.pathname + url.search, what, fields: form.entries(["_csrf", SUDO_PASSWORD_FIELD]), error }),
    status,
  );
}

function refuse(entry: RouteEntry, outcome: "unauthenticated" | "forbidden", request: Request, requestId: string, asHtml: boolean): Response {
  if (outcome === "unauthenticated") {
    // A browser that may sign in is sent to the login page, and brought back afterwards.
    if (asHtml && request.method === "GET" && entry.rule.accepts.includes("session")) {
      const url = new URL(request.url);
      return new Response(null, {
        status: 302,
        headers: { Location: `/login?next=${encodeURIComponent(url.pathname + url.search)}`, "Cache-Control": "no-store" },
      });
    }
    const headers: Record<string, string> = {};
    if (entry.rule.accepts.includes("token")) headers["WWW-Authenticate"] = 'Bearer realm="endpoint"';
    return problemResponse({ status: 401, code: "unauthenticated", detail: "sign in or present a valid API token to use this route", headers }, requestId, asHtml);
  }
  const headers: Record<string, string> = {};
  if (entry.rule.accepts.includes("token")) headers["WWW-Authenticate"] = 'Bearer realm="endpoint", error="insufficient_scope"';
  return problemResponse({ status: 403, code: "forbidden", detail: "you are signed in but not allowed to use this route", headers }, requestId, asHtml);
}

/** Map any failure to an answer; unexpected ones are logged with their stack under the request id. */
export function errorResponse(error: unknown, log: Logger, facts: RequestFacts, asHtml: boolean): Response {
  if (error instanceof EndpointError) {
    const problem: Problem = { status: error.status, code: error.code, detail: error.message, fields: error.fields };
    if (error.status === 503) problem.headers = { "Retry-After": "5" };
    return problemResponse(problem, facts.requestId, asHtml);
  }
  if (isConnectionFailure(error)) {
    log.error("database_unavailable", { request_id: facts.requestId, route: facts.route, cause: describeCause(error) });
    return problemResponse(
      { status: 503, code: "unavailable", detail: "the database is unavailable; try again shortly", headers: { "Retry-After": "5" } },
      facts.requestId,
      asHtml,
    );
  }
  log.error("unhandled_error", {
    request_id: facts.requestId,
    route: facts.route,
    error: describeCause(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
  return problemResponse({ status: 500, code: "internal", detail: `something went wrong on our side; quote request id ${facts.requestId}` }, facts.requestId, asHtml);
}

const describeCause = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

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

function validateParams(entry: RouteEntry, params: Record<string, string>): unknown {
  for (const key in params)
    if (params[key]!.includes("\u0000"))
      throw new EndpointError("invalid_input", 422, "the request's path parameters are not valid", [{ path: `/params/${key}`, message: "must not contain NUL characters" }]);
  if (!entry.validators.params) return params;
  return check(entry.validators.params, coerceNumbers(entry.handler.params!, params), "params", "path parameters");
}

function validateQuery(entry: RouteEntry, request: Request): unknown {
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

async function readBody(entry: RouteEntry, request: Request, limitBytes: number): Promise<unknown> {
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
async function readForm(request: Request, limitBytes: number): Promise<InputFields | undefined> {
  if (!METHODS_WITH_BODY.has(request.method)) return undefined;
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return undefined;
  if (Number(request.headers.get("content-length") ?? 0) > limitBytes) throw tooLarge(limitBytes);
  const text = await request.text();
  if (Buffer.byteLength(text) > limitBytes) throw tooLarge(limitBytes);
  return new InputFields(new URLSearchParams(text), "form");
}

/** Why a cookie-authenticated, state-changing request fails the CSRF checks, or null when it passes. */
function csrfRefusal(request: Request, services: RouteServices, expected: string, form: InputFields | undefined): string | null {
  const foreign = foreignOrigin(request, services.publicOrigin);
  if (foreign) return `CSRF: ${foreign}`;
  const presented = presentedCsrfToken(request, form);
  if (presented === null) return "CSRF: no token (X-CSRF-Token header or _csrf field)";
  return secretsEqual(expected, presented) ? null : "CSRF: wrong token";
}

const tooLarge = (limitBytes: number) =>
  new EndpointError("body_too_large", 413, `the request body is larger than the limit of ${limitBytes} bytes`);
