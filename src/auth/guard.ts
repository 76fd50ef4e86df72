// Who may call a route: the one decision every mounted route goes through. A pure function of the route's
// rule and the principal, so it can be tested with a table.
import type { Credential, Principal } from "./principal.ts";

export interface Rule {
  /** The route's name: what token scopes list and logs show. */
  route: string;
  public: boolean;
  /** Groups allowed; "*" = any signed-in principal. Empty on public routes. */
  groups: readonly string[];
  /** Credentials the route accepts. */
  accepts: readonly Credential[];
}

/**
 * Why a request was refused, as one of a few fixed words: the label of `endpoint_auth_failures_total`, so a dashboard
 * never depends on the wording of `because` (which `can` and the access log show people).
 */
export type RefusalReason =
  | "no_credentials"
  | "invalid_credentials"
  | "credential_not_accepted"
  | "token_route_limit"
  | "not_a_member"
  | "csrf"
  | "sudo"
  // Said by Endpoint's own sign-in handlers (HandlerContext.refusedAs), not by the guard:
  | "wrong_password"
  | "wrong_code";

export type Decision =
  | { outcome: "allow"; because: string }
  | { outcome: "unauthenticated"; reason: RefusalReason; because: string } // 401
  | { outcome: "forbidden"; reason: RefusalReason; because: string }; // 403

export function decide(rule: Rule, who: Principal | null): Decision {
  if (rule.public) return { outcome: "allow", because: "route is public" };
  if (!who) return { outcome: "unauthenticated", reason: "no_credentials", because: `route accepts ${rule.accepts.join(" or ")}; none presented` };
  if (!rule.accepts.includes(who.via))
    return { outcome: "unauthenticated", reason: "credential_not_accepted", because: `route does not accept ${who.via} credentials` };
  if (who.via === "token" && who.tokenRoutes && !who.tokenRoutes.includes(rule.route))
    return { outcome: "forbidden", reason: "token_route_limit", because: `token is limited to routes ${who.tokenRoutes.join(", ")}` };
  if (rule.groups.includes("*")) return { outcome: "allow", because: "route allows any signed-in principal" };
  const shared = rule.groups.find((g) => who.groups.includes(g));
  return shared
    ? { outcome: "allow", because: `member of group ${shared}` }
    : { outcome: "forbidden", reason: "not_a_member", because: `not a member of any of: ${rule.groups.join(", ")}` };
}

/** The rule's access as one short phrase, for `routes` output and logs. */
export function describeAccess(rule: Rule): string {
  return rule.public ? "public" : `groups: ${rule.groups.join(", ")}`;
}
