// The actor the accounts core audits and judges, made from the caller the guard resolved.
import type { Actor } from "../accounts/audit.ts";
import type { Principal } from "./principal.ts";

/**
 * A signed-in caller as an Actor. A browser session counts as recently authenticated within `reauthAfterSeconds`
 * of the last password entry (sudo mode); a token's limits come from its parent instead, so it always does.
 */
export function actorFor(
  principal: Principal,
  options: { source: "web" | "api"; clientAddress?: string | null; session?: { authenticatedAt: number } | null; reauthAfterSeconds: number; now?: number },
): Actor {
  const now = options.now ?? Date.now();
  const recentlyAuthenticated =
    principal.via === "token" || (options.session != null && now - options.session.authenticatedAt < options.reauthAfterSeconds * 1000);
  return {
    name: principal.username,
    source: options.source,
    clientAddress: options.clientAddress ?? null,
    user: { id: principal.id, groups: principal.groups },
    tokenId: principal.via === "token" ? principal.tokenId : undefined,
    recentlyAuthenticated,
  };
}
