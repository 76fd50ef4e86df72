// One request through one route: guard → input validation → handler → answer. Every mounted route, built-in or
// declared, runs through runRoute; nothing reaches a handler any other way.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { Actor } from "../accounts/audit.ts";
import { ReauthRequired } from "../accounts/sudo.ts";
import { actorFor } from "../auth/actor.ts";
import type { AuthResult, Authenticator } from "../auth/authenticator.ts";
import type { PasswordChecker } from "../auth/password-check.ts";
import { foreignOrigin, presentedCsrfToken, secretsEqual } from "../auth/csrf.ts";
import { type RefusalReason, decide } from "../auth/guard.ts";
import type { Config } from "../config/schema.ts";
import { isCreated } from "../handlers/created.ts";
import { html, isHtmlPage } from "../handlers/html.ts";
import { ConfirmPasswordPage, SUDO_PASSWORD_FIELD } from "../pages/confirm-password-page.tsx";
import type { PageCaller } from "../pages/error-page.tsx";
import { InputFields, METHODS_WITH_BODY, queryFields, readBody, readForm, validateParams, validateQuery } from "./input.ts";
import type { Logger } from "../logger.ts";
import type { RequestFacts } from "./request-context.ts";
import { pageCaller, prefersHtml, problemResponse, renderFailure } from "./problem.ts";
import { valueResponse } from "./respond.ts";
import type { AcceptedOrigins } from "../auth/origins.ts";
import type { Route } from "./route.ts";
import { listedOrigin, sessionAllowed } from "./cors.ts";
import type { Credential, Principal } from "../auth/principal.ts";
import { readCookie } from "../auth/authenticate.ts";
import type { HandlerContext } from "../handlers/define-handler.ts";
import type { EndpointServices } from "./services.ts";
import type { RateLimitOutcome, RateLimiter } from "./rate-limiter.ts";

export interface RouteServices {
  config: Config;
  db: Kysely<Database>;
  log: Logger;
  authenticator: Authenticator;
  /** The client's address as far as the trusted proxies allow. */
  clientAddress: (request: Request) => string | undefined;
  /** The Origin a cookie-authenticated change may come from (public_url's, or in development the loopback address). */
  origins: AcceptedOrigins;
  /** Checks a signed-in user's password again (sudo mode). */
  passwords: PasswordChecker;
  /** Check JSON answers against the handlers' `response` schemas (development and tests, not production). */
  checkResponses: boolean;
  /** What Endpoint's own routes use, handed to handlers as `context.services`. */
  endpoint: EndpointServices;
  /** Counts requests against the routes' `rate_limit`s, shared with the other instances. */
  limiter: RateLimiter;
}

/**
 * Run one request through `entry`. A request without a body whose credentials and handler answer from memory is
 * answered without a promise: each await would be a turn of the event loop on every request.
 */
export function runRoute(
  entry: Route,
  services: RouteServices,
  request: Request,
  params: Record<string, string>,
  facts: RequestFacts,
): Response | Promise<Response> {
  facts.route = entry.name;
  const asHtml = prefersHtml(request);
  const fail = (error: unknown) => renderFailure(error, services.log, facts, asHtml);
  try {
    // A session cookie is never accepted from another origin's page unless the route's CORS rule allows it.
    const accepts = entry.cors && !sessionAllowed(entry.cors, request, services.origins.expectedFor(request)) ? tokensOnly(entry.rule.accepts) : entry.rule.accepts;
    const authenticated = services.authenticator.authenticate(request, accepts);
    if (authenticated instanceof Promise) return authenticated.then((auth) => guarded(entry, services, request, params, facts, asHtml, auth), fail);
    return guarded(entry, services, request, params, facts, asHtml, authenticated);
  } catch (error) {
    return fail(error);
  }
}

/** After authentication: the guard's decision, then the handler (by the quick path or the one that reads a body). */
function guarded(
  entry: Route,
  services: RouteServices,
  request: Request,
  params: Record<string, string>,
  facts: RequestFacts,
  asHtml: boolean,
  auth: AuthResult,
): Response | Promise<Response> {
  facts.principal = auth.principal;
  facts.authTried = auth.tried;
  const decision = decide(entry.rule, auth.principal);
  if (decision.outcome !== "allow") {
    facts.deniedBecause = auth.failure ? `${auth.failure}; ${decision.because}` : decision.because;
    // A credential was presented and failed (bad, expired, revoked): that is why nothing was accepted.
    facts.refusalReason = auth.failure && decision.outcome === "unauthenticated" ? "invalid_credentials" : decision.reason;
    // Or one was presented that this route does not take (a token on a session-only page, a browser session on a
    // token-only API): say so, rather than ask for what the caller already sent.
    const unaccepted = decision.reason === "no_credentials" ? unacceptedCredential(request, entry.rule.accepts, services.config.auth.cookieName) : null;
    if (unaccepted) {
      facts.deniedBecause = `${decision.because}; a ${unaccepted} was presented, which this route does not accept`;
      facts.refusalReason = "credential_not_accepted";
    }
    return refuse(entry, decision.outcome, request, facts.requestId, asHtml, pageCaller(auth, entry, services.config), unaccepted);
  }
  // Only requests the guard lets through are counted: a refused one never reaches what the limit protects.
  if (entry.rateLimits.length) {
    const outcome = services.limiter.take(entry.name, entry.rateLimits, auth.principal, () => services.clientAddress(request));
    if (!(outcome instanceof Promise)) return withinLimit(entry, services, request, params, facts, asHtml, auth, outcome);
    return outcome.then(
      (limited) => withinLimit(entry, services, request, params, facts, asHtml, auth, limited),
      (error) => renderFailure(error, services.log, facts, asHtml),
    );
  }
  return admitted(entry, services, request, params, facts, asHtml, auth);
}

/** A limited route: 429 when the request does not fit, else the handler; either way with the RateLimit headers. */
function withinLimit(
  entry: Route,
  services: RouteServices,
  request: Request,
  params: Record<string, string>,
  facts: RequestFacts,
  asHtml: boolean,
  auth: AuthResult,
  outcome: RateLimitOutcome,
): Response | Promise<Response> {
  const refused = outcome.refusedBy;
  if (refused) {
    facts.rateLimitedBy = refused.name;
    services.endpoint.metrics.rateLimited(entry.name, refused.name);
    const wait = outcome.retryAfterSeconds;
    return withRateLimitHeaders(
      outcome,
      problemResponse(
        {
          status: 429,
          code: "rate_limited",
          detail: `this route answers ${refused.limit} request${refused.limit === 1 ? "" : "s"} per ${describeWindow(refused.windowSeconds)} per ${refused.per}; try again in ${describeWait(wait)}`,
          headers: { "Retry-After": String(wait) },
        },
        facts.requestId,
        asHtml,
        pageCaller(auth, entry, services.config),
      ),
    );
  }
  const answered = admitted(entry, services, request, params, facts, asHtml, auth);
  return answered instanceof Promise ? answered.then((response) => withRateLimitHeaders(outcome, response)) : withRateLimitHeaders(outcome, answered);
}

function withRateLimitHeaders(outcome: RateLimitOutcome, response: Response): Response {
  response.headers.set("RateLimit-Policy", outcome.policyHeader);
  response.headers.set("RateLimit", outcome.stateHeader);
  return response;
}

/** A wait as a person reads it, rounded up: "40 seconds", "3 minutes", "5 hours", "6 days". */
function describeWait(seconds: number): string {
  const [count, unit] =
    seconds < 120 ? [seconds, "second"] : seconds < 7200 ? [Math.ceil(seconds / 60), "minute"] : seconds < 172800 ? [Math.ceil(seconds / 3600), "hour"] : [Math.ceil(seconds / 86400), "day"];
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

/** 60 → "minute", 90 → "90 seconds", 3600 → "hour", 7200 → "2 hours". */
export function describeWindow(seconds: number): string {
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]] as const)
    if (seconds % size === 0) return seconds === size ? unit : `${seconds / size} ${unit}s`;
  return seconds === 1 ? "second" : `${seconds} seconds`;
}

/** After the guard (and the rate limit): the handler, by the quick path or the one that reads a body. */
function admitted(
  entry: Route,
  services: RouteServices,
  request: Request,
  params: Record<string, string>,
  facts: RequestFacts,
  asHtml: boolean,
  auth: AuthResult,
): Response | Promise<Response> {
  if (METHODS_WITH_BODY.has(request.method)) return withBody(entry, services, request, params, facts, asHtml, auth);
  // GET and HEAD: no body, no form, no CSRF check (safe methods change nothing).
  const fail = (error: unknown) => renderFailure(error, services.log, facts, asHtml, pageCaller(auth, entry, services.config));
  try {
    const context = new RequestContext(entry, services, request, facts, auth.principal, auth.session ?? null, undefined);
    context.params = validateParams(entry, params);
    context.query = validateQuery(entry, request);
    const value = entry.handler.handle(context);
    if (value instanceof Promise) return value.then((resolved) => answer(entry, services, facts, auth, resolved), fail);
    return answer(entry, services, facts, auth, value);
  } catch (error) {
    return fail(error);
  }
}

/** What the handler returned, as a Response (checked against its response schema outside production). */
function answer(entry: Route, services: RouteServices, facts: RequestFacts, auth: AuthResult, value: unknown): Response | Promise<Response> {
  if (services.checkResponses && entry.validators.response) checkResponse(entry, value);
  // Answers that depend on who asked must not be kept by shared caches or the browser's history.
  return valueResponse(value, facts.requestId, auth.principal !== null);
}

/** A request that may carry a body: form or JSON, the CSRF check for cookie callers, sudo confirmation, handler. */
async function withBody(
  entry: Route,
  services: RouteServices,
  request: Request,
  params: Record<string, string>,
  facts: RequestFacts,
  asHtml: boolean,
  auth: AuthResult,
): Promise<Response> {
  let form: InputFields | undefined;
  try {
    const limit = services.config.server.bodyLimitBytes;
    form = entry.validators.body ? undefined : await readForm(request, limit);
    if (auth.session) {
      const refusal = csrfRefusal(request, services, auth.session.csrfToken, form, entry);
      if (refusal) {
        facts.deniedBecause = refusal;
        facts.refusalReason = "csrf";
        return problemResponse(
          { status: 403, code: "csrf_failed", detail: "this request did not come from a page of this site; reload the page and try again" },
          facts.requestId,
          asHtml,
          pageCaller(auth, entry, services.config),
        );
      }
      // Sudo mode's confirmation page posts the original form back with the password: check it, then go on.
      if (form?.has(SUDO_PASSWORD_FIELD)) {
        const password = form.get(SUDO_PASSWORD_FIELD) ?? "";
        form = form.without(SUDO_PASSWORD_FIELD);
        const check = await services.passwords.check(auth.principal!.username, password, services.clientAddress(request) ?? "unknown", auth.session.idHash);
        if (!check.ok) {
          facts.deniedBecause = `sudo: ${check.message}`;
          facts.refusalReason = "sudo";
          const page = await valueResponse(confirmPasswordPage(request, auth, form, "continue", check.status, check.message), facts.requestId, true);
          if (check.retryAfterSeconds) page.headers.set("Retry-After", String(check.retryAfterSeconds));
          return page;
        }
        auth.session.authenticatedAt = Date.now();
      }
    }
    const context = new RequestContext(entry, services, request, facts, auth.principal, auth.session ?? null, form);
    context.params = validateParams(entry, params);
    context.query = validateQuery(entry, request);
    if (entry.validators.body) context.body = await readBody(entry, request, services.config.server);
    return await answer(entry, services, facts, auth, await entry.handler.handle(context));
  } catch (error) {
    // A page form that needs a fresh password: ask for it, carrying the form, instead of an error page.
    if (error instanceof ReauthRequired && asHtml && auth.session && form && request.method === "POST") {
      facts.deniedBecause = "sudo: password confirmation required";
      facts.refusalReason = "sudo";
      try {
        return await valueResponse(confirmPasswordPage(request, auth, form, error.what, 403), facts.requestId, true);
      } catch (inner) {
        return renderFailure(inner, services.log, facts, asHtml, pageCaller(auth, entry, services.config));
      }
    }
    return renderFailure(error, services.log, facts, asHtml, pageCaller(auth, entry, services.config));
  }
}

/**
 * What a handler receives (HandlerContext). A class, not an object literal with getters: its shape is made once,
 * and what most handlers never use (the query reader, the actor, the logger) is made on first use.
 */
class RequestContext implements HandlerContext<unknown, unknown, unknown> {
  params: unknown = undefined;
  query: unknown = undefined;
  body: unknown = undefined;
  readonly db: RouteServices["db"];
  readonly services: EndpointServices;
  readonly config: Config;
  #searchParams: InputFields | undefined;
  #actor: Actor | null | undefined;
  #log: Logger | undefined;

  readonly requestId: string;

  constructor(
    private readonly entry: Route,
    private readonly pipeline: RouteServices,
    readonly request: Request,
    private readonly facts: RequestFacts,
    readonly caller: Principal | null,
    readonly session: NonNullable<AuthResult["session"]> | null,
    readonly form: InputFields | undefined,
  ) {
    this.requestId = facts.requestId;
    this.db = pipeline.db;
    this.services = pipeline.endpoint;
    this.config = pipeline.config;
  }

  // A method, not an arrow field: a context is made for every admitted request, and a closure per request would be
  // spent on the few handlers that refuse. Call it on the context (`context.refusedAs(…)`).
  refusedAs(reason: RefusalReason): void {
    this.facts.refusalReason = reason;
  }

  get searchParams(): InputFields {
    return (this.#searchParams ??= queryFields(this.request));
  }

  get clientAddress(): string | undefined {
    return this.pipeline.clientAddress(this.request);
  }

  get actor(): Actor | null {
    if (this.#actor === undefined)
      this.#actor = this.caller
        ? actorFor(this.caller, {
            source: this.entry.path.startsWith("/api/") ? "api" : "web",
            clientAddress: this.clientAddress ?? null,
            session: this.session,
            reauthAfterSeconds: this.config.auth.reauthAfterSeconds,
          })
        : null;
    return this.#actor;
  }

  get log(): Logger {
    return (this.#log ??= this.pipeline.log.child({ request_id: this.requestId, route: this.entry.name }));
  }
}

/** A JSON answer that breaks its handler's declared `response` schema is a bug in the handler: 500, logged. */
function checkResponse(entry: Route, value: unknown): void {
  if (value instanceof Response || isHtmlPage(value)) return;
  const json = isCreated(value) ? value.body : value;
  const validator = entry.validators.response!;
  if (validator.Check(json)) return;
  const first = validator.Errors(json).First();
  throw new Error(`route '${entry.name}' answered JSON that breaks its response schema at '${first?.path ?? ""}': ${first?.message ?? "invalid"}`);
}

function confirmPasswordPage(request: Request, auth: AuthResult, form: InputFields, what: string, status: number, error?: string) {
  const url = new URL(request.url);
  return html(
    ConfirmPasswordPage({ principal: auth.principal!, csrfToken: auth.session!.csrfToken, action: url.pathname + url.search, what, fields: form.entries(["_csrf", SUDO_PASSWORD_FIELD]), error }),
    status,
  );
}

/** The credential a request presented that the route does not accept (the authenticator never looked at it), if any. */
function unacceptedCredential(request: Request, accepts: readonly Credential[], cookieName: string): Credential | null {
  if (!accepts.includes("token") && request.headers.has("authorization")) return "token";
  if (!accepts.includes("session") && readCookie(request.headers.get("cookie"), cookieName) !== undefined) return "session";
  return null;
}

/** What a 401 asks for: what the route accepts, and what it refused when the caller sent the other kind. */
function unauthenticatedDetail(accepts: readonly Credential[], unaccepted: Credential | null): string {
  if (unaccepted === "token") return "this route does not accept API tokens; sign in to use it";
  if (unaccepted === "session") return "this route accepts API tokens only (Authorization: Bearer), not a signed-in session";
  if (!accepts.includes("token")) return "sign in to use this route";
  if (!accepts.includes("session")) return "present a valid API token (Authorization: Bearer) to use this route";
  return "sign in or present a valid API token to use this route";
}

function refuse(
  entry: Route,
  outcome: "unauthenticated" | "forbidden",
  request: Request,
  requestId: string,
  asHtml: boolean,
  caller: PageCaller | undefined,
  unaccepted: Credential | null,
): Response {
  if (outcome === "unauthenticated") {
    // A browser that may sign in is sent to the login page, and brought back afterwards.
    if (asHtml && request.method === "GET" && entry.rule.accepts.includes("session")) {
      const url = new URL(request.url);
      return new Response(null, {
        status: 302,
        headers: {
          Location: `/login?next=${encodeURIComponent(url.pathname + url.search)}`,
          "Cache-Control": "no-store",
          "X-Request-Id": requestId,
          "X-Content-Type-Options": "nosniff",
          "Referrer-Policy": "same-origin",
        },
      });
    }
    const headers: Record<string, string> = {};
    if (entry.rule.accepts.includes("token")) headers["WWW-Authenticate"] = 'Bearer realm="endpoint"';
    return problemResponse({ status: 401, code: "unauthenticated", detail: unauthenticatedDetail(entry.rule.accepts, unaccepted), headers }, requestId, asHtml, caller);
  }
  const headers: Record<string, string> = {};
  if (entry.rule.accepts.includes("token")) headers["WWW-Authenticate"] = 'Bearer realm="endpoint", error="insufficient_scope"';
  return problemResponse({ status: 403, code: "forbidden", detail: "you are signed in but not allowed to use this route", headers }, requestId, asHtml, caller);
}

const TOKEN_ONLY = ["token"] as const;
const NO_CREDENTIALS = [] as const;
function tokensOnly(accepts: Route["rule"]["accepts"]): Route["rule"]["accepts"] {
  return accepts.includes("token") ? TOKEN_ONLY : NO_CREDENTIALS;
}

/** Why a cookie-authenticated, state-changing request fails the CSRF checks, or null when it passes. */
function csrfRefusal(request: Request, services: RouteServices, expected: string, form: InputFields | undefined, entry: Route): string | null {
  // An origin a `credentials: true` CORS rule lists passes the Origin check; it must still send the token header.
  const listed = entry.cors?.credentials === true && listedOrigin(entry.cors, request.headers.get("origin"));
  const foreign = listed ? null : foreignOrigin(request, services.origins.expectedFor(request));
  if (foreign) return `CSRF: ${foreign}`;
  if (listed && request.headers.get("x-csrf-token") === null) return "CSRF: a cross-origin request must send the X-CSRF-Token header";
  const presented = presentedCsrfToken(request, form);
  if (presented === null) return "CSRF: no token (X-CSRF-Token header or _csrf field)";
  return secretsEqual(expected, presented) ? null : "CSRF: wrong token";
}
