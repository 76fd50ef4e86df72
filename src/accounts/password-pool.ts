// Password checks off the request thread: a few worker threads (password-worker.ts), each at a low CPU priority
// (nice 10) and checking one password at a time. Argon2id is meant to cost about a core for a tenth of a second;
// on Bun's shared thread pool at normal priority, a burst of sign-ins took the CPU from every other route. One
// process shares one pool, sized to leave a core for everything else.
import { availableParallelism } from "node:os";

/** Threads for a pool: all the cores this process may use but one, and at least one. */
export const defaultPoolSize = () => Math.max(1, availableParallelism() - 1);

interface Job {
  password: string;
  hash: string;
  resolve: (ok: boolean) => void;
  reject: (error: Error) => void;
}

export class PasswordPool {
  readonly size: number;
  readonly #idleMs: number;
  readonly #idle: Worker[] = [];
  readonly #running = new Map<Worker, Job>();
  readonly #queue: Job[] = [];
  #threads = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  /** Threads start on first use and stop after `idleMs` without work, giving back their memory (64 MiB a check). */
  constructor({ size = defaultPoolSize(), idleMs = 30_000 }: { size?: number; idleMs?: number } = {}) {
    this.size = size;
    this.#idleMs = idleMs;
  }

  /** Checks waiting for a thread (beyond the `size` being checked). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Is `password` the one `hash` was made from? Checks run in arrival order. */
  verify(password: string, hash: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ password, hash, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    clearTimeout(this.#idleTimer);
    while (this.#queue.length > 0) {
      const worker = this.#idle.pop() ?? (this.#threads < this.size ? this.#start() : undefined);
      if (!worker) return;
      const job = this.#queue.shift()!;
      this.#running.set(worker, job);
      worker.postMessage({ password: job.password, hash: job.hash });
    }
    if (this.#running.size === 0 && this.#idle.length > 0) {
      this.#idleTimer = setTimeout(() => {
        for (const worker of this.#idle.splice(0)) {
          worker.terminate();
          this.#threads--;
        }
      }, this.#idleMs);
      this.#idleTimer.unref();
    }
  }

  #start(): Worker {
    // Not ref'd: an idle pool never keeps the process alive. A small heap: the thread runs a few lines of JS.
    const worker = new Worker(new URL("./password-worker.ts", import.meta.url), { ref: false, smol: true });
    this.#threads++;
    worker.onmessage = (event: MessageEvent<boolean>) => {
      const job = this.#running.get(worker);
      this.#running.delete(worker);
      this.#idle.push(worker);
      job?.resolve(event.data === true);
      this.#dispatch();
    };
    worker.onerror = (event) => {
      // A thread that fails is replaced; its check fails (an error, never a "yes").
      const job = this.#running.get(worker);
      this.#running.delete(worker);
      if (this.#idle.includes(worker)) this.#idle.splice(this.#idle.indexOf(worker), 1);
      worker.terminate();
      this.#threads--;
      job?.reject(new Error(`password check failed: ${event.message}`));
      this.#dispatch();
    };
    return worker;
  }
}

let shared: PasswordPool | undefined;

/** The process's pool: the cores are the process's, so every Endpoint in it shares one. */
export function sharedPasswordPool(): PasswordPool {
  return (shared ??= new PasswordPool());
}
