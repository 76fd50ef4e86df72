// The characters a username or group name may hold. Documented in the README's CLI reference.
import { invalid } from "../errors.ts";

/** Letters, digits, `.`, `_`, `-`; starts with a letter or digit; 1–64 characters. Unique without regard to case. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Lower-case letters, digits, `.`, `_`, `-`; starts with a letter or digit; 1–64 characters. */
export const GROUP_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A name for a message: bounded and with control characters made visible, so it cannot forge output lines. */
export function quoteName(name: string): string {
  const shown = name.length > 64 ? `${name.slice(0, 64)}…` : name;
  return `'${shown.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}'`;
}

export function checkUsername(username: string, field = "username"): void {
  if (!USERNAME_PATTERN.test(username))
    throw invalid(
      "invalid_username",
      `username ${quoteName(username)} is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      [{ path: `/${field}`, message: "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit" }],
    );
}

export function checkGroupName(name: string, field = "name"): void {
  if (!GROUP_NAME_PATTERN.test(name))
    throw invalid(
      "invalid_group_name",
      `group name ${quoteName(name)} is not allowed: use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`,
      [{ path: `/${field}`, message: "1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit" }],
    );
}
