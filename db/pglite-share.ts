// Serving an open embedded database to other processes (the CLI, psql) while the dev server keeps using it in
// process. PGlite is one backend with one session, so clients must take turns: pglite-socket's handler speaks the
// wire protocol, and the turn-taking here is ours, because its own queue lets two clients' extended-protocol
// messages interleave (one client's Bind can land between another's Parse and Execute) and knows nothing of the
// server's in-process transactions.
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { type Server, type Socket, createServer } from "node:net";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketHandler } from "@electric-sql/pglite-socket";

/** Where clients find a shared database: a Unix socket (psql: -h DIR) or, when the path is too long, loopback TCP. */
export type SharedAddress = { socketDir: string; socketPath: string } | { host: "127.0.0.1"; port: number };

export interface SharedDatabase {
  address: SharedAddress;
  /** How a person connects with psql. */
  psqlCommand: string;
  stop(): Promise<void>;
}

/** A client holding the database mid-transaction with nothing sent for this long is disconnected (and rolled back). */
const IDLE_IN_TRANSACTION_MS = 30_000;
/** A Unix socket path longer than this does not fit in sockaddr_un on Linux (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 100;

/**
 * One client at a time owns the database, from its first message until PGlite answers ReadyForQuery with status
 * idle (after a Sync or a simple query outside a transaction). Ownership is PGlite's transaction mutex, the same
 * one the in-process Kysely dialect takes for each query and transaction, so the dev server's own work and the
 * socket clients' work never interleave either.
 */
class TurnTaking {
  /** The client that owns the database, once PGlite's transaction mutex is ours on its behalf. */
  #owner: number | undefined;
  #releaseMutex: (() => void) | undefined;
  /** Clients waiting for a turn, in arrival order. */
  #waiting: Array<{ handlerId: number; start: () => void; cancel: (error: Error) => void }> = [];
  /** Each client's messages run one after another, in the order it sent them. */
  #chains = new Map<number, Promise<unknown>>();
  #acquiring = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly pglite: PGlite,
    private readonly onNotification: (channel: string, payload: string) => void,
    private readonly disconnect: (handlerId: number) => void,
  ) {}

  /** The interface PGLiteSocketHandler calls for each complete message a client sends. */
  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    const run = (this.#chains.get(handlerId) ?? Promise.resolve()).catch(() => {}).then(() => this.#run(handlerId, message, onData));
    this.#chains.set(handlerId, run);
    return run;
  }

  async #run(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    if (this.#owner !== handlerId) await this.#turnFor(handlerId);
    clearTimeout(this.#idleTimer);
    const framer = new MessageFramer();
    let sent = 0;
    let status: number | undefined;
    try {
      await this.pglite._runExclusiveQuery(() =>
        this.pglite.execProtocolRawStream(message, {
          onRawData: (bytes) => {
            const forward: Uint8Array[] = [];
            for (const frame of framer.push(bytes)) {
              if (frame[0] === 0x41 /* A: NotificationResponse */) this.#notify(frame);
              else {
                if (frame[0] === 0x5a /* Z: ReadyForQuery */) status = frame[5];
                forward.push(frame);
              }
            }
            if (forward.length > 0) {
              const out = forward.length === 1 ? forward[0]! : Buffer.concat(forward);
              sent += out.length;
              onData(out);
            }
          },
        }),
      );
    } finally {
      if (status === 0x49 /* I: idle */) this.#release(handlerId);
      else if (this.#owner === handlerId)
        this.#idleTimer = setTimeout(() => {
          this.disconnect(handlerId);
          void this.clearTransactionIfNeeded(handlerId);
        }, IDLE_IN_TRANSACTION_MS);
    }
    return sent;
  }

  clearQueueForHandler(handlerId: number): void {
    this.#waiting = this.#waiting.filter((waiter) => {
      if (waiter.handlerId !== handlerId) return true;
      waiter.cancel(new Error("client disconnected"));
      return false;
    });
    this.#chains.delete(handlerId);
  }

  /** A client that leaves while owning the database: finish its extended-protocol exchange, roll back, hand over. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.#owner !== handlerId) return;
    clearTimeout(this.#idleTimer);
    try {
      await this.pglite._runExclusiveQuery(async () => {
        await this.pglite.execProtocolRawStream(SYNC, { onRawData: () => {} });
        if (this.pglite.isInTransaction()) await this.pglite.execProtocolRawStream(simpleQuery("ROLLBACK"), { onRawData: () => {} });
      });
    } finally {
      this.#release(handlerId);
    }
  }

  #turnFor(handlerId: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ handlerId, start: resolve, cancel: reject });
      this.#next();
    });
  }

  /** Hand the database to the next waiting client once nobody owns it. */
  #next(): void {
    if (this.#owner !== undefined || this.#acquiring) return;
    const waiter = this.#waiting.shift();
    if (!waiter) return;
    this.#acquiring = true;
    void this.pglite._runExclusiveTransaction(
      () =>
        new Promise<void>((release) => {
          this.#acquiring = false;
          this.#owner = waiter.handlerId;
          this.#releaseMutex = release;
          waiter.start();
        }),
    );
  }

  #release(handlerId: number): void {
    if (this.#owner !== handlerId) return;
    clearTimeout(this.#idleTimer);
    this.#owner = undefined;
    const release = this.#releaseMutex;
    this.#releaseMutex = undefined;
    release?.();
    this.#next();
  }

  #notify(frame: Uint8Array): void {
    // A: int32 length, int32 pid, channel\0, payload\0
    const [channel = "", payload = ""] = new TextDecoder().decode(frame.subarray(9)).split("\0");
    this.onNotification(channel, payload);
  }
}

/** Splits PGlite's output into whole protocol messages (type byte, int32 length including itself, body). */
class MessageFramer {
  #buffer = new Uint8Array(0);

  push(bytes: Uint8Array): Uint8Array[] {
    let buffer = bytes;
    if (this.#buffer.length > 0) {
      buffer = new Uint8Array(this.#buffer.length + bytes.length);
      buffer.set(this.#buffer);
      buffer.set(bytes, this.#buffer.length);
    }
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (buffer.length - offset >= 5) {
      const length = 1 + new DataView(buffer.buffer, buffer.byteOffset + offset + 1, 4).getInt32(0);
      if (buffer.length - offset < length) break;
      frames.push(buffer.slice(offset, offset + length));
      offset += length;
    }
    this.#buffer = buffer.slice(offset);
    return frames;
  }
}

const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);

function simpleQuery(sql: string): Uint8Array {
  const text = new TextEncoder().encode(`${sql}\0`);
  const message = new Uint8Array(5 + text.length);
  message[0] = 0x51; // Q
  new DataView(message.buffer).setInt32(1, 4 + text.length);
  message.set(text, 5);
  return message;
}

/**
 * Serve `pglite` to local clients beside its folder: a Unix socket in `<folder>.socket/` (mode 0700, so only this
 * OS user), or loopback TCP on a free port when that path would be too long. Never another host.
 */
export async function shareDatabase(
  pglite: PGlite,
  folder: string,
  onNotification: (channel: string, payload: string) => void,
): Promise<SharedDatabase> {
  const handlers = new Map<number, PGLiteSocketHandler>();
  const turns = new TurnTaking(pglite, onNotification, (id) => void handlers.get(id)?.detach(true));
  const server: Server = createServer((socket: Socket) => {
    // The handler's type names pglite-socket's own queue class; ours has the same three methods.
    const handler = new PGLiteSocketHandler({ queryQueue: turns as never, closeOnDetach: true });
    handler.addEventListener("close", () => handlers.delete(handler.handlerId));
    handler.addEventListener("error", () => handlers.delete(handler.handlerId));
    handlers.set(handler.handlerId, handler);
    handler.attach(socket).catch(() => socket.destroy());
  });

  const socketDir = `${folder}.socket`;
  const socketPath = join(socketDir, ".s.PGSQL.5432");
  let address: SharedAddress;
  if (socketPath.length <= MAX_SOCKET_PATH) {
    rmSync(socketDir, { recursive: true, force: true }); // a socket left by a process that died
    mkdirSync(socketDir, { mode: 0o700 });
    chmodSync(socketDir, 0o700);
    await listen(server, { path: socketPath });
    address = { socketDir, socketPath };
  } else {
    await listen(server, { host: "127.0.0.1", port: 0 });
    address = { host: "127.0.0.1", port: (server.address() as { port: number }).port };
  }
  return {
    address,
    psqlCommand: "socketDir" in address ? `psql -h '${address.socketDir}' -U postgres postgres` : `psql -h 127.0.0.1 -p ${address.port} -U postgres postgres`,
    async stop() {
      await Promise.all([...handlers.values()].map((handler) => handler.detach(true).catch(() => {})));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if ("socketDir" in address) rmSync(address.socketDir, { recursive: true, force: true });
    },
  };
}

function listen(server: Server, options: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
