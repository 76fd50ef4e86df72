// One request through one route: guard → input validation → handler → answer. Every mounted route, built-in or
// declared, runs through runRoute; nothing reaches a handler any other way.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { Actor } from "../accounts/audit.ts";
import { ReauthRequired } from "../accounts/sudo.ts";
import { actorFor } from "../auth/actor.ts";
import type { AuthResult, Authenticator } from "../auth/authenticator.ts";
import type { PasswordChecker } from "../auth/password-check.ts";
import { SAFE_METHODS, foreignOrigin, presentedCsrfToken, secretsEqual } from "../auth/csrf.ts";
import { decide } from "../auth/guard.ts";
import type { Config } from "../config/schema.ts";
import { isCreated } from "../handlers/created.ts";
import { html, isHtmlPage } from "../handlers/html.ts";
import { ConfirmPasswordPage, SUDO_PASSWORD_FIELD } from "../pages/confirm-password-page.tsx";
import { InputFields, queryFields, readBody, readForm, validateParams, validateQuery } from "./input.ts";
import type { Logger } from "../logger.ts";
import type { RequestFacts } from "./request-context.ts";
import { prefersHtml, problemResponse, renderFailure } from "./problem.ts";
import { valueResponse } from "./respond.ts";
import type { Route } from "./route.ts";
import type { EndpointServices } from "./services.ts";

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
  /** Check JSON answers against the handlers' `response` schemas (development and tests, not production). */
  checkResponses: boolean;
  /** What Endpoint's own routes use, handed to handlers as `context.services`. */
  endpoint: EndpointServices;
}

export async function runRoute(
  entry: Route,
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
      caller: principal,
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
      services: services.endpoint,
      config: services.config,
      // Made on first use: most handlers never log.
      get log() {
        return (log ??= services.log.child({ request_id: facts.requestId, route: entry.name }));
      },
      request,
      requestId: facts.requestId,
    };
    // Answers that depend on who asked must not be kept by shared caches or the browser's history.
    const value = await entry.handler.handle(context);
    if (services.checkResponses && entry.validators.response) checkResponse(entry, value);
    return await valueResponse(value, facts.requestId, auth.principal !== null);
  } catch (error) {
    // A page form that needs a fresh password: ask for it, carrying the form, instead of an error page.
    if (error instanceof ReauthRequired && asHtml && auth?.session && form && request.method === "POST") {
      facts.deniedBecause = "sudo: password confirmation required";
      try {
        return await valueResponse(confirmPasswordPage(request, auth, form, error.what, 403), facts.requestId, true);
      } catch (inner) {
        return renderFailure(inner, services.log, facts, asHtml);
      }
    }
    return renderFailure(error, services.log, facts, asHtml);
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

function refuse(entry: Route, outcome: "unauthenticated" | "forbidden", request: Request, requestId: string, asHtml: boolean): Response {
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

/** Why a cookie-authenticated, state-changing request fails the CSRF checks, or null when it passes. */
function csrfRefusal(request: Request, services: RouteServices, expected: string, form: InputFields | undefined): string | null {
  const foreign = foreignOrigin(request, services.publicOrigin);
  if (foreign) return `CSRF: ${foreign}`;
  const presented = presentedCsrfToken(request, form);
  if (presented === null) return "CSRF: no token (X-CSRF-Token header or _csrf field)";
  return secretsEqual(expected, presented) ? null : "CSRF: wrong token";
}
