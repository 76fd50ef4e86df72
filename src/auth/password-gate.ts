// Password checks are expensive by design (argon2id, 64 MiB each); a flood of logins must not exhaust memory.
// At most a few run at once, a bounded queue waits, and the rest are told to come back.
import { EndpointError } from "../errors.ts";
import { verifyPassword } from "../accounts/passwords.ts";

export class PasswordGate {
  #running = 0;
  #waiting: Array<() => void> = [];
  #dummyHash: Promise<string> | undefined;

  constructor(
    private readonly concurrency = 4,
    private readonly maxWaiting = 64,
  ) {}

  /** Verify `password` against `hash`, or against a dummy hash when there is no user, so both take as long. */
  async verify(password: string, hash: string | null): Promise<boolean> {
    const against = hash ?? (await (this.#dummyHash ??= Bun.password.hash(crypto.randomUUID(), { algorithm: "argon2id" })));
    await this.#enter();
    try {
      const ok = await verifyPassword(password, against);
      return ok && hash !== null;
    } finally {
      this.#leave();
    }
  }

  async #enter(): Promise<void> {
    if (this.#running < this.concurrency) {
      this.#running++;
      return;
    }
    if (this.#waiting.length >= this.maxWaiting)
      throw new EndpointError("busy", 503, "too many sign-ins at once; try again in a few seconds");
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #leave(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }
}
