// Where the token signing secret comes from, and the secrets that are refused.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretError, resolveSecrets } from "../../src/auth/secret.ts";
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
});
