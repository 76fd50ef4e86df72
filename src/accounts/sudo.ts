// Sudo mode: the changes that need a password typed recently, whichever door they come through. The CLI, the
// config and API tokens are exempt (see Actor.recentlyAuthenticated); a browser session past
// auth.session.reauth_after is asked to confirm its password first.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import { EndpointError } from "../errors.ts";
import { type Actor, recordAudit } from "./audit.ts";

/** The error the pages turn into a "confirm your password" form and the API into 403 `reauth_required`. */
export class ReauthRequired extends EndpointError {
  constructor(readonly what: string) {
    super("reauth_required", 403, `confirm your password to ${what}: your sign-in is older than auth.session.reauth_after`);
  }
}

/** Throw ReauthRequired unless the actor proved their password recently. */
export function requireRecentAuthentication(actor: Actor, what: string): void {
  if (!actor.recentlyAuthenticated) throw new ReauthRequired(what);
}

/** A browser session proved its password again: audited as sudo.confirm (and so logged as a security event). */
export async function recordSudoConfirmation(db: Kysely<Database>, actor: Actor, sessionHandle: string): Promise<void> {
  await recordAudit(db, actor, "sudo.confirm", actor.name, { session: sessionHandle });
}
