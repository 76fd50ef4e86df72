// Issuing an API token: the accounts core makes the record (and applies every rule about it), the codec signs it.
// The signed token is returned once and never stored.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { Actor } from "../accounts/audit.ts";
import type { AccountRules } from "../accounts/rules.ts";
import { type TokenRequest, type TokenSummary, createTokenRecord } from "../accounts/tokens.ts";
import type { TokenCodec } from "./token-codec.ts";

export async function issueToken(
  db: Kysely<Database>,
  codec: TokenCodec,
  rules: AccountRules,
  actor: Actor,
  input: TokenRequest,
): Promise<{ token: string; summary: TokenSummary }> {
  const { summary, ownerId } = await createTokenRecord(db, rules, actor, input);
  const token = await codec.sign({ id: summary.id, userId: ownerId, expiresAt: summary.expires_at });
  return { token, summary };
}
