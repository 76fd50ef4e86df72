// Sign-in's password checks, kept off the path of every other route. Argon2id costs about a core and 64 MiB for
// a tenth of a second or more, by design; a flood of sign-ins must cost neither the other routes' CPU nor unbounded
// memory. Checks run on the password pool's low-priority threads (one fewer than the cores, at least one), a
// bounded queue waits for them, and an attempt beyond it is refused without hashing: 503 with Retry-After.
import { type PasswordPool, sharedPasswordPool } from "../accounts/password-pool.ts";
import { EndpointError } from "../errors.ts";

/** Checks that may wait per pool thread: the longest wait is about this many checks' time (a few seconds). */
export const WAITING_PER_THREAD = 16;
/**
 * A refusal is answered after about this pause (½ to 1½ times it, so refusals do not come back in waves). A client
 * that re-sends as soon as it is answered (a flood does) then costs one attempt per connection per pause — its
 * throttle entry, its user lookup, its page — instead of a loop of them that takes the request thread from every
 * other route. The pause holds a timer, not a thread or a hash.
 */
export const REFUSAL_PAUSE_MS = 2_000;

export class PasswordGate {
  readonly #pool: PasswordPool;
  readonly #maxWaiting: number;
  readonly #refusalPauseMs: number;
  #dummyHash: Promise<string> | undefined;

  constructor({
    pool = sharedPasswordPool(),
    maxWaiting,
    refusalPauseMs = REFUSAL_PAUSE_MS,
  }: { pool?: PasswordPool; maxWaiting?: number; refusalPauseMs?: number } = {}) {
    this.#pool = pool;
    this.#maxWaiting = maxWaiting ?? pool.size * WAITING_PER_THREAD;
    this.#refusalPauseMs = refusalPauseMs;
  }

  /**
   * Verify `password` against `hash`, or against a dummy hash when there is no user, so both take as long. When the
   * queue is full, throws a 503 EndpointError "busy" (answered with Retry-After) after the refusal pause.
   */
  async verify(password: string, hash: string | null): Promise<boolean> {
    const against = hash ?? (await (this.#dummyHash ??= Bun.password.hash(crypto.randomUUID(), { algorithm: "argon2id" })));
    // Checked and queued in one synchronous step, so concurrent attempts cannot overfill the queue.
    if (this.#pool.waiting >= this.#maxWaiting) {
      await Bun.sleep(this.#refusalPauseMs * (0.5 + Math.random()));
      throw new EndpointError("busy", 503, "too many sign-ins at once; try again in a few seconds");
    }
    const ok = await this.#pool.verify(password, against);
    return ok && hash !== null;
  }
}
