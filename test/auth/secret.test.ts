// Where the token signing secret comes from, and the secrets that are refused.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretError, previousSecretProblems, resolveSecrets } from "../../src/auth/secret.ts";
import type { Config } from "../../src/config/schema.ts";

const STRONG = "Zr8qLk2Vn4Xw7Ty1Pb5Hc9Md3Sg6Jf0Ae";
function configWith(auth: Partial<Config["auth"]> = {}, file = "/nonexistent.yaml"): Config {
  return { file, auth: { verifySecrets: [], ...auth } } as unknown as Config;
}

describe("the signing secret", () => {
  test("development generates one secret, keeps it in a file only its owner can read, and reuses it", () => {
    const dir = mkdtempSync(join(tmpdir(), "endpoint-secret-"));
    try {
      const file = join(dir, "data", "secret");
      const first = resolveSecrets(configWith(), { env: {}, mode: "development", secretFile: file });
      expect(first.source).toBe("generated");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(resolveSecrets(configWith(), { env: {}, mode: "development", secretFile: file }).signing).toBe(first.signing);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("ENDPOINT_SECRET wins, and previous secrets are kept for verification only", () => {
    const secrets = resolveSecrets(configWith({ verifySecrets: ["Old0secret9with8enough7random6chars5x"] }), { env: { ENDPOINT_SECRET: STRONG }, mode: "production" });
    expect(secrets).toEqual({ signing: STRONG, verifying: [STRONG, "Old0secret9with8enough7random6chars5x"], source: "environment" });
  });

  test("production refuses no secret, a weak one, and one written into the committed config", () => {
    expect(() => resolveSecrets(configWith(), { env: {}, mode: "production" })).toThrow(SecretError);
    for (const weak of ["changeme", "x".repeat(40), "abababababababababababababababababab"])
      expect(() => resolveSecrets(configWith(), { env: { ENDPOINT_SECRET: weak }, mode: "production" })).toThrow(/too weak/);
    const dir = mkdtempSync(join(tmpdir(), "endpoint-secret-"));
    try {
      const file = join(dir, "endpoint.yaml");
      writeFileSync(file, `auth:\n  secret: ${STRONG}\nroutes: []\n`);
      expect(() => resolveSecrets(configWith({ secret: STRONG }, file), { env: {}, mode: "production" })).toThrow(/written into/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a weak previous secret is refused in every mode, named by its index and never printed", () => {
    const OLD = "Old0secret9with8enough7random6chars5x";
    for (const mode of ["production", "development"] as const) {
      const config = configWith({ verifySecrets: [OLD, "changeme"] });
      let message = "";
      try {
        resolveSecrets(config, { env: { ENDPOINT_SECRET: STRONG }, mode });
      } catch (error) {
        expect(error).toBeInstanceOf(SecretError);
        message = (error as Error).message;
      }
      expect(message).toStartWith("auth.previous_secrets[1] is too weak: it is shorter than 32 bytes.");
      expect(message).not.toContain("changeme");
      expect(message).not.toContain(OLD);
    }
    for (const weak of ["x".repeat(40), "abababababababababababababababababab"])
      expect(() => resolveSecrets(configWith({ verifySecrets: [weak] }), { env: { ENDPOINT_SECRET: STRONG }, mode: "production" })).toThrow(
        /auth\.previous_secrets\[0\] is too weak/,
      );
  });

  test("a previous secret written into the committed config is refused in production, like auth.secret", () => {
    const OLD = "Old0secret9with8enough7random6chars5x";
    const dir = mkdtempSync(join(tmpdir(), "endpoint-secret-"));
    try {
      const file = join(dir, "endpoint.yaml");
      writeFileSync(file, `auth:\n  previous_secrets: [${OLD}]\nroutes: []\n`);
      const config = configWith({ verifySecrets: [OLD] }, file);
      expect(() => resolveSecrets(config, { env: { ENDPOINT_SECRET: STRONG }, mode: "production" })).toThrow(/auth\.previous_secrets\[0\] is written into/);
      expect(resolveSecrets(config, { env: { ENDPOINT_SECRET: STRONG }, mode: "development" }).verifying).toEqual([STRONG, OLD]);
      expect(previousSecretProblems(config)).toEqual([{ index: 0, kind: "in-config", message: `auth.previous_secrets[0] is written into ${file}` }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an empty previous secret (an unset ${VAR:-}) is skipped, and duplicates verify once", () => {
    const OLD = "Old0secret9with8enough7random6chars5x";
    const secrets = resolveSecrets(configWith({ verifySecrets: ["", OLD, STRONG, OLD] }), { env: { ENDPOINT_SECRET: STRONG }, mode: "production" });
    expect(secrets.verifying).toEqual([STRONG, OLD]);
  });
});
