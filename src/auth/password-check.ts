// Checking a signed-in user's password again (sudo mode, the account page's current password): throttled like
// sign-in (the attempt is reserved before hashing), and on success the session counts as freshly authenticated.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import { recordSudoConfirmation } from "../accounts/sudo.ts";
import { findUser } from "../accounts/users.ts";
import type { AuthCache } from "./auth-cache.ts";
import type { PasswordGate } from "./password-gate.ts";
import { markSessionAuthenticated, sessionHandle } from "./sessions.ts";
import { attemptSucceeded, judgeAttempt, reserveAttempt } from "./throttle.ts";

export type PasswordCheck = { ok: true } | { ok: false; status: 401 | 429; message: string; retryAfterSeconds?: number };

export class PasswordChecker {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cache: AuthCache,
    private readonly gate: PasswordGate,
  ) {}

  /** Is `password` the user's? On success the session `idHash` is marked as authenticated now. */
  async check(username: string, password: string, address: string, idHash: string): Promise<PasswordCheck> {
    const reservation = await reserveAttempt(this.db, username, address);
    if (!reservation.allowed)
      return {
        ok: false,
        status: 429,
        message: `Too many wrong passwords. Try again in ${Math.ceil(reservation.retryAfterSeconds / 60)} minute(s).`,
        retryAfterSeconds: reservation.retryAfterSeconds,
      };
    const user = await findUser(this.db, username);
    if (!user || password.length > 1024 || !(await judgeAttempt(this.db, username, address, () => this.gate.verify(password, user.password_hash))))
      return { ok: false, status: 401, message: "That password is not right." };
    await attemptSucceeded(this.db, username, address);
    await markSessionAuthenticated(this.db, idHash);
    const actor = { name: user.username, source: "web" as const, clientAddress: address, recentlyAuthenticated: true };
    await recordSudoConfirmation(this.db, actor, sessionHandle(idHash));
    this.cache.forgetSession(idHash);
    return { ok: true };
  }
}
