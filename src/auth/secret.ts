// The secret that signs API tokens: from ENDPOINT_SECRET or the config; in development, generated once and kept
// in data/secret (mode 0600). Older secrets may be listed so the signing secret can be rotated.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Config } from "../config/schema.ts";

export const MIN_SECRET_BYTES = 32;
export const DEV_SECRET_FILE = "data/secret";

/** Values that appear in docs, examples and tutorials; a secret equal to one of these is no secret. */
const KNOWN_SECRETS = new Set(["changeme", "secret", "change-me", "your-secret-here", "replace-me", "endpoint", "development", "please-change-this-secret"]);

export interface SigningSecrets {
  /** Signs new tokens. */
  signing: string;
  /** Verify presented tokens: the signing secret first, then the previous ones. */
  verifying: string[];
  /** Where the signing secret came from, for start-up messages. */
  source: "environment" | "config" | "generated";
}

export class SecretError extends Error {}

/** Why a secret is too weak to sign tokens, or null when it will do. */
export function secretWeakness(secret: string): string | null {
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) return `it is shorter than ${MIN_SECRET_BYTES} bytes`;
  if (KNOWN_SECRETS.has(secret.toLowerCase()) || /^(.)\1+$/.test(secret)) return "it is a well-known or repeated value";
  if (new Set(secret).size < 10) return "it has too few distinct characters to be random";
  return null;
}

/** A fresh random secret: 48 bytes, base64url. */
export function generateSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
}

export function resolveSecrets(
  config: Config,
  { env = process.env, mode, secretFile = DEV_SECRET_FILE }: { env?: Record<string, string | undefined>; mode: "development" | "production"; secretFile?: string },
): SigningSecrets {
  let signing: string;
  let source: SigningSecrets["source"];
  if (env.ENDPOINT_SECRET) {
    signing = env.ENDPOINT_SECRET;
    source = "environment";
  } else if (config.auth.secret) {
    signing = config.auth.secret;
    source = "config";
    if (mode === "production" && readFileSync(config.file, "utf8").includes(signing))
      throw new SecretError(
        `auth.secret is written into ${config.file}; a committed file is no place for it: set ENDPOINT_SECRET in the service's environment (or write auth.secret: \${ENDPOINT_SECRET})`,
      );
  } else if (mode === "production") {
    throw new SecretError(
      "no ENDPOINT_SECRET: production needs a signing secret for API tokens; generate one with: openssl rand -base64 48",
    );
  } else {
    signing = developmentSecret(secretFile);
    source = "generated";
  }
  const weakness = secretWeakness(signing);
  if (weakness)
    throw new SecretError(`the signing secret (ENDPOINT_SECRET or auth.secret) is too weak: ${weakness}; generate one with: openssl rand -base64 48`);
  return { signing, verifying: [signing, ...config.auth.verifySecrets.filter((s: string) => s !== signing)], source };
}

/** Read data/secret, or make it: readable by this user only. */
function developmentSecret(file: string): string {
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return readFileSync(file, "utf8").trim();
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = generateSecret();
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  return secret;
}
