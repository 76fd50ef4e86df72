// One thread of the password pool (password-pool.ts): checks one password against its argon2id hash at a time, at a
// low CPU priority, so the thread answering requests runs first.
import { setPriority } from "node:os";

/**
 * nice 10: where this thread and the request thread want the same core, the request thread gets about nine tenths of
 * it (scheduler weights 1024 to 110), and sign-ins still move. At 19 (one seventieth) a busy server starves them.
 */
const NICE = 10;

declare const self: Worker;

try {
  // On Linux the nice value is per thread: 0 names this thread alone, and lowering one's own priority needs no rights.
  setPriority(0, NICE);
} catch {
  // Not permitted or not supported here: the pool's size still leaves a core to the requests.
}

self.onmessage = (event: MessageEvent<{ password: string; hash: string }>) => {
  const { password, hash } = event.data;
  let ok = false;
  try {
    // The synchronous form runs here, on this low-priority thread (the asynchronous one would use Bun's shared pool).
    ok = Bun.password.verifySync(password, hash);
  } catch {
    // A malformed hash matches nothing.
  }
  self.postMessage(ok);
};
