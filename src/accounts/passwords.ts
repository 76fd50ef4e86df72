// Password policy and hashing. Hashes are argon2id from Bun.password (64 MiB, t=2, a random salt in each hash).
import { invalid } from "../errors.ts";
import { COMMON_PASSWORDS } from "./common-passwords.ts";

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 128;

/** Throws a 422 EndpointError when the password breaks the policy; length counts code points, not bytes. */
export function checkPasswordPolicy(password: string): void {
  const length = [...password].length;
  if (length === 0) throw invalid("password_empty", "password must not be empty", [{ path: "/password", message: "required" }]);
  if (length < MIN_PASSWORD_LENGTH)
    throw invalid("password_too_short", `password must be at least ${MIN_PASSWORD_LENGTH} characters long`, [
      { path: "/password", message: `at least ${MIN_PASSWORD_LENGTH} characters` },
    ]);
  if (length > MAX_PASSWORD_LENGTH)
    throw invalid("password_too_long", `password must be at most ${MAX_PASSWORD_LENGTH} characters long`, [
      { path: "/password", message: `at most ${MAX_PASSWORD_LENGTH} characters` },
    ]);
  if (password.includes("\u0000"))
    throw invalid("password_invalid", "password must not contain NUL characters", [{ path: "/password", message: "no NUL characters" }]);
  if (COMMON_PASSWORDS.has(password.toLowerCase()))
    throw invalid("password_common", "password is too common; choose one that is not on lists of leaked passwords", [
      { path: "/password", message: "too common" },
    ]);
}

export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

/** A one-off check (tools, tests). The server checks sign-ins on the password pool's low-priority threads instead. */
export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return Bun.password.verify(password, hash).catch(() => false);
}
