// The secret that signs API tokens: from ENDPOINT_SECRET or the config; in development, generated once and kept
// in data/secret (mode 0600). Older secrets may be listed so the signing secret can be rotated; they are held to
// the same rules, since any secret that still verifies can mint tokens.
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
  /** Verify presented tokens: the signing secret first, then the previous ones (each token names its key by kid). */
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

/**
 * The id a token's `kid` header names its key by: 16 hex digits of a SHA-256 over the secret, domain-separated.
 * It tells keys apart and gives nothing away: a signed token already lets anyone test guesses offline.
 */
export function keyId(secret: string): string {
  return new Bun.CryptoHasher("sha256").update("endpoint token key id\0").update(secret).digest("hex").slice(0, 16);
}

/** A fresh random secret: 48 bytes, base64url. */
export function generateSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
}

/** One thing wrong with an entry of auth.previous_secrets, named by its index (never by its value). */
export interface PreviousSecretProblem {
  index: number;
  kind: "weak" | "in-config";
  /** `auth.previous_secrets[1] is too weak: it is shorter than 32 bytes` */
  message: string;
}

/**
 * What is wrong with the previous secrets: each must be as strong as the signing secret, and (like auth.secret)
 * not written into the config file itself. Empty entries are skipped, so `${ENDPOINT_PREVIOUS_SECRET:-}` may stay
 * in the file between rotations.
 */
export function previousSecretProblems(config: Pick<Config, "file" | "auth">): PreviousSecretProblem[] {
  const problems: PreviousSecretProblem[] = [];
  let fileText: string | undefined;
  config.auth.verifySecrets.forEach((secret, index) => {
    if (secret === "") return;
    const name = `auth.previous_secrets[${index}]`;
    const weakness = secretWeakness(secret);
    // A weak value is reported as weak only: a short string turns up in any file by chance.
    if (weakness) return void problems.push({ index, kind: "weak", message: `${name} is too weak: ${weakness}` });
    fileText ??= readConfigText(config.file);
    if (fileText.includes(secret)) problems.push({ index, kind: "in-config", message: `${name} is written into ${config.file}` });
  });
  return problems;
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
  // The same rules as the signing secret, in the same modes: too weak is refused everywhere, written into the
  // config file only in production.
  const problems = previousSecretProblems(config).filter((p) => p.kind === "weak" || mode === "production");
  if (problems.length)
    throw new SecretError(
      `${problems.map((p) => p.message).join("; ")}. A previous secret still verifies tokens, so it must be as strong and as private as ENDPOINT_SECRET: remove it (the tokens it signed stop working), or pass a strong one in from the environment, e.g. previous_secrets: [\${ENDPOINT_PREVIOUS_SECRET}]`,
    );
  const previous = config.auth.verifySecrets.filter((s: string) => s !== "" && s !== signing);
  return { signing, verifying: [signing, ...new Set(previous)], source };
}

/** The config file's text, or "" when there is none to read (a config built in memory). */
function readConfigText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
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
