// MFA secrets are encrypted at rest: AES-256-GCM under a key derived (HKDF-SHA256, fixed label) from the server
// secret, with the user's id as associated data so a ciphertext copied to another user's row does not decrypt.
// Keys from auth.previous_secrets still decrypt, so rotating the server secret does not lock anyone out.
import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";

const INFO = "endpoint mfa secret encryption v1";
const VERSION = "v1";

/** The keys MFA secrets are encrypted with (the first) and decrypted with (each in turn). */
export interface MfaKeys {
  keys: readonly Buffer[];
}

/** Derive the MFA keys from the server secret and the previous secrets, current first. */
export function deriveMfaKeys(secrets: readonly string[]): MfaKeys {
  return { keys: [...new Set(secrets)].map((secret) => Buffer.from(hkdfSync("sha256", secret, "", INFO, 32))) };
}

/** `v1.<base64url of iv | tag | ciphertext>` */
export function encryptSecret(keys: MfaKeys, userId: string, plaintext: Uint8Array): string {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const cipher = createCipheriv("aes-256-gcm", keys.keys[0]!, iv);
  cipher.setAAD(Buffer.from(userId));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
}

/** The plaintext, or null when no key opens it (another secret, another user's row, or tampering). */
export function decryptSecret(keys: MfaKeys, userId: string, stored: string): Uint8Array | null {
  const [version, data] = stored.split(".");
  if (version !== VERSION || !data) return null;
  const raw = Buffer.from(data, "base64url");
  if (raw.length < 29) return null;
  for (const key of keys.keys) {
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(userId));
      decipher.setAuthTag(raw.subarray(12, 28));
      return new Uint8Array(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]));
    } catch {
      // Not this key: try the next.
    }
  }
  return null;
}
