// Two-step sign-in, the rules: enrol (a fresh secret, confirmed with a code, which gives 10 single-use recovery
// codes), verify a code at sign-in (a TOTP code is accepted once: its time-step must be later than the last one
// accepted; a recovery code is marked used), who must enrol (auth.mfa.required_for) and reset (the CLI's way back in).
// Every check that refuses a replay is one conditional UPDATE, so two requests racing with one code accept it once.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import { EndpointError } from "../errors.ts";
import { type Actor, recordAudit } from "./audit.ts";
import { type MfaKeys, decryptSecret, encryptSecret } from "./mfa-cipher.ts";
import { base32Encode, looksLikeTotpCode, matchingStep } from "./totp.ts";
import { requireRecentAuthentication } from "./sudo.ts";
import { requireUser } from "./users.ts";

export const RECOVERY_CODE_COUNT = 10;
const SECRET_BYTES = 20; // 160 bits, RFC 4226's recommended length for HMAC-SHA1
const RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"; // no 0/o, 1/l/i: read off paper

export interface MfaStatus {
  /** A confirmed secret: sign-in asks for a code. */
  enrolled: boolean;
  recoveryCodesLeft: number;
}

export interface MfaUser {
  id: string;
  username: string;
}

/** Whether the user has MFA, and how many recovery codes are unused. */
export async function mfaStatus(db: Kysely<Database>, userId: string): Promise<MfaStatus> {
  const [secret, codes] = await Promise.all([
    db.selectFrom("mfa_secrets").select("confirmed_at").where("user_id", "=", userId).executeTakeFirst(),
    db.selectFrom("mfa_recovery_codes").select((eb) => eb.fn.countAll<string>().as("n")).where("user_id", "=", userId).where("used_at", "is", null).executeTakeFirstOrThrow(),
  ]);
  return { enrolled: !!secret?.confirmed_at, recoveryCodesLeft: Number(codes.n) };
}

/** Whether one of the user's groups is in auth.mfa.required_for. */
export async function mfaRequiredFor(db: Kysely<Database>, userId: string, requiredFor: readonly string[]): Promise<boolean> {
  if (requiredFor.length === 0) return false;
  const row = await db
    .selectFrom("group_members")
    .innerJoin("groups", "groups.id", "group_members.group_id")
    .select("groups.name")
    .where("group_members.user_id", "=", userId)
    .where("groups.name", "in", [...requiredFor])
    .executeTakeFirst();
  return !!row;
}

/**
 * The secret a user is enrolling with, made on first call and the same until confirmed (so a page shown again
 * shows the same QR code). Refused when the user already has MFA: reset it first.
 */
export async function enrolmentSecret(db: Kysely<Database>, keys: MfaKeys, user: MfaUser): Promise<string> {
  const existing = await db.selectFrom("mfa_secrets").select(["secret_encrypted", "confirmed_at"]).where("user_id", "=", user.id).executeTakeFirst();
  if (existing?.confirmed_at) throw new EndpointError("mfa_already_enrolled", 409, "Two-step sign-in is already on for this account.");
  const plain = existing && decryptSecret(keys, user.id, existing.secret_encrypted);
  if (plain) return base32Encode(plain);
  const secret = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  await db
    .insertInto("mfa_secrets")
    .values({ user_id: user.id, secret_encrypted: encryptSecret(keys, user.id, secret) })
    .onConflict((oc) => oc.column("user_id").doUpdateSet({ secret_encrypted: (eb) => eb.ref("excluded.secret_encrypted"), created_at: sql`now()` }).where("mfa_secrets.confirmed_at", "is", null))
    .execute();
  return base32Encode(secret);
}

const wrongCode = () => new EndpointError("mfa_wrong_code", 422, "That code is not right. Check the time on your phone and try the newest code.");

/**
 * Turn MFA on with a code from the app: the enrolment secret becomes the user's, and 10 new recovery codes are
 * made and returned — the only time they exist in plain text. Audited as user.mfa_enrol.
 */
export async function confirmEnrolment(db: Kysely<Database>, keys: MfaKeys, actor: Actor, user: MfaUser, code: string, nowMs = Date.now()): Promise<string[]> {
  // Sudo mode: a stolen session must not be able to tie the account to the thief's phone.
  requireRecentAuthentication(actor, "turn on two-step sign-in");
  const row = await db.selectFrom("mfa_secrets").select(["secret_encrypted", "confirmed_at"]).where("user_id", "=", user.id).executeTakeFirst();
  if (row?.confirmed_at) throw new EndpointError("mfa_already_enrolled", 409, "Two-step sign-in is already on for this account.");
  const secret = row && decryptSecret(keys, user.id, row.secret_encrypted);
  if (!secret) throw new EndpointError("mfa_not_started", 409, "Start again: your enrolment expired.");
  const step = looksLikeTotpCode(code) ? matchingStep(secret, code, nowMs) : null;
  if (step === null) throw wrongCode();
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await db.transaction().execute(async (trx) => {
    const confirmed = await trx
      .updateTable("mfa_secrets")
      .set({ confirmed_at: sql`now()`, last_step: step })
      .where("user_id", "=", user.id)
      .where("confirmed_at", "is", null)
      .executeTakeFirst();
    if (confirmed.numUpdatedRows !== 1n) throw new EndpointError("mfa_already_enrolled", 409, "Two-step sign-in is already on for this account.");
    await trx.deleteFrom("mfa_recovery_codes").where("user_id", "=", user.id).execute();
    await trx.insertInto("mfa_recovery_codes").values(codes.map((c) => ({ user_id: user.id, code_hash: hashRecoveryCode(user.id, c) }))).execute();
    await recordAudit(trx, actor, "user.mfa_enrol", user.username, { recovery_codes: RECOVERY_CODE_COUNT });
  });
  return codes;
}

export type SecondFactor = { ok: true; via: "totp" | "recovery"; recoveryCodesLeft?: number } | { ok: false };

/**
 * Check a sign-in's second step: a 6-digit code from the app (its step must be later than the last accepted, so a
 * code works once) or a recovery code (marked used). The caller throttles attempts.
 */
export async function verifySecondFactor(db: Kysely<Database>, keys: MfaKeys, user: MfaUser, code: string, nowMs = Date.now()): Promise<SecondFactor> {
  const row = await db.selectFrom("mfa_secrets").select(["secret_encrypted", "confirmed_at"]).where("user_id", "=", user.id).executeTakeFirst();
  if (!row?.confirmed_at) return { ok: false };
  if (looksLikeTotpCode(code)) {
    const secret = decryptSecret(keys, user.id, row.secret_encrypted);
    const step = secret && matchingStep(secret, code, nowMs);
    if (step === null || step === undefined) return { ok: false };
    const accepted = await db
      .updateTable("mfa_secrets")
      .set({ last_step: step })
      .where("user_id", "=", user.id)
      .where((eb) => eb.or([eb("last_step", "is", null), eb("last_step", "<", step)]))
      .executeTakeFirst();
    return accepted.numUpdatedRows === 1n ? { ok: true, via: "totp" } : { ok: false };
  }
  const normalised = normaliseRecoveryCode(code);
  if (normalised.length !== 16) return { ok: false };
  const used = await db
    .updateTable("mfa_recovery_codes")
    .set({ used_at: sql`now()` })
    .where("user_id", "=", user.id)
    .where("code_hash", "=", hashRecoveryCode(user.id, normalised))
    .where("used_at", "is", null)
    .executeTakeFirst();
  if (used.numUpdatedRows === 0n) return { ok: false };
  const { recoveryCodesLeft } = await mfaStatus(db, user.id);
  return { ok: true, via: "recovery", recoveryCodesLeft };
}

/**
 * `mfa reset`: remove a user's MFA (secret, recovery codes, pending sign-ins), so they sign in with the password
 * alone (and enrol again where auth.mfa.required_for says so). Audited as user.mfa_reset. Returns the user's name
 * as stored and whether there was anything to remove.
 */
export async function resetMfa(db: Kysely<Database>, actor: Actor, username: string): Promise<{ username: string; enrolled: boolean }> {
  // Taking a second factor away leaves the password alone between an attacker and the account.
  requireRecentAuthentication(actor, "reset two-step sign-in");
  return db.transaction().execute(async (trx) => {
    const user = await requireUser(trx, username);
    const removed = await trx.deleteFrom("mfa_secrets").where("user_id", "=", user.id).returning("confirmed_at").executeTakeFirst();
    await trx.deleteFrom("mfa_recovery_codes").where("user_id", "=", user.id).execute();
    await trx.deleteFrom("mfa_challenges").where("user_id", "=", user.id).execute();
    const enrolled = !!removed?.confirmed_at;
    await recordAudit(trx, actor, "user.mfa_reset", user.username, { was_enrolled: enrolled });
    return { username: user.username, enrolled };
  });
}

/** 16 characters from an unambiguous alphabet (about 79 bits), shown as xxxx-xxxx-xxxx-xxxx. */
function newRecoveryCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const chars = Array.from(bytes, (b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join("");
  return chars.match(/.{4}/g)!.join("-");
}

const normaliseRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, "");

// Recovery codes carry ~79 random bits, so a fast hash is enough (no guessing from the hash); the user id in it
// keeps two users' equal codes apart.
function hashRecoveryCode(userId: string, code: string): string {
  return new Bun.CryptoHasher("sha256").update(`endpoint recovery code\0${userId}\0`).update(normaliseRecoveryCode(code)).digest("hex");
}
