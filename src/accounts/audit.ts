// The audit log: who changed what, when and from where. Callers pass names and ids, never secrets. Every row is
// also a security event in the server's log, so a log pipeline sees each change without reading the table.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import { logSecurityEvent } from "../logger.ts";

/** Who is making a change, and through which door. */
export interface Actor {
  /** A username, `cli:<os user>` for the command line, or `config` for groups endpoint.yaml declares. */
  name: string;
  source: "cli" | "web" | "api" | "config";
  clientAddress?: string | null;
  /** The signed-in user behind a web or API change; absent for the CLI and the config (the machine's administrator). */
  user?: { id: string; groups: readonly string[] };
  /** Set when the change is made with an API token: a token it creates becomes that token's child. */
  tokenId?: string;
  /**
   * Whether the person proved their password recently enough for sensitive changes (sudo mode). Always true for
   * the CLI, the config and API tokens (a token's limits come from its parent instead); for a browser session it
   * is true within auth.session.reauth_after of the last password entry.
   */
  recentlyAuthenticated: boolean;
}

/** The CLI and the config act as the machine's administrator: no rule about callers applies to them. */
export const isMachine = (actor: Actor) => actor.source === "cli" || actor.source === "config";

export async function recordAudit(
  db: Kysely<Database>,
  actor: Actor,
  action: string,
  target: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db
    .insertInto("audit_log")
    .values({
      actor: actor.name,
      source: actor.source,
      action,
      target,
      client_address: actor.clientAddress ?? null,
      detail: JSON.stringify(detail),
    })
    .execute();
  // Logged once the row is written. Callers write it last in their transaction, so a change that rolls back
  // after it (none does today) would be the only way to log a change that did not happen.
  logSecurityEvent({ action, actor: actor.name, source: actor.source, target, client: actor.clientAddress ?? null, detail });
}

export interface AuditPage {
  entries: Array<{ id: string; at: Date; actor: string; source: string; action: string; target: string; client_address: string | null; detail: Record<string, unknown> }>;
  total: number;
}

/** Newest first. */
export async function listAudit(db: Kysely<Database>, { limit = 50, offset = 0 } = {}): Promise<AuditPage> {
  const [rows, count] = await Promise.all([
    db.selectFrom("audit_log").selectAll().orderBy("id", "desc").limit(limit).offset(offset).execute(),
    db.selectFrom("audit_log").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return {
    entries: rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, source: r.source, action: r.action, target: r.target, client_address: r.client_address, detail: r.detail })),
    total: Number(count.n),
  };
}
