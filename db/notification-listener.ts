// PostgreSQL notifications on a connection of their own, watched by a heartbeat. A LISTEN connection can hang
// without closing — its backend stopped (`kill -STOP`), a proxy or firewall black-holing it — and then
// notifications stop arriving while nothing looks wrong: TCP keepalive takes minutes to notice. So the listener
// NOTIFYs itself on a channel it listens to, through the query pool, every HEARTBEAT_INTERVAL_MS; when the NOTIFY
// went through but its echo does not come back within ECHO_BOUND_MS, subscribers are told notifications may be
// missed (`onLost`) and the connection is replaced by a fresh one, which LISTENs again (`onConnect` once it does).
import type { Sql } from "postgres";

/**
 * How often the listener NOTIFYs itself, and how long after that NOTIFY returns its echo may take. A listener that
 * hangs just after an echo is found out when the next heartbeat goes unanswered: at worst interval + the NOTIFY's
 * round trip (milliseconds while the database answers; never counted past NOTIFY_TIMEOUT_MS) + bound
 * = 1.5 + 1.5 + 1.5 = 4.5 s, inside the 5 s in which a revocation must reach every instance. An echo normally takes
 * a millisecond, so 1.5 s raises no false alarms, and one would cost only a cache flush and a reconnect.
 */
export const HEARTBEAT_INTERVAL_MS = 1_500;
export const ECHO_BOUND_MS = 1_500;
/** A heartbeat whose NOTIFY takes longer proves nothing about the listener: the database is slow or away. */
export const NOTIFY_TIMEOUT_MS = 1_500;
/** How long a fresh connection may take to LISTEN before it counts as lost too (postgres.js connect_timeout: 5 s). */
const RELISTEN_TIMEOUT_MS = 5_000;

/** Heartbeats share their channel with real messages; this prefix keeps them from subscribers. */
const HEARTBEAT_PREFIX = "heartbeat:";

export interface Subscription {
  channel: string;
  onMessage: (payload: string) => void;
  /** The listener (re)connected: anything sent while it was away was missed. */
  onConnect?: () => void;
  /** The listener stopped answering: notifications may be missed until `onConnect` runs again. */
  onLost?: () => void;
}

export class NotificationListener {
  /** Names this listener's heartbeats among those of every instance on the same channel. */
  readonly #id = crypto.randomUUID().slice(0, 8);
  /** Each subscription with the function that UNLISTENs it on the current connection. */
  readonly #subscriptions = new Map<Subscription, () => Promise<void>>();
  #sql: Sql | undefined;
  #sent = 0;
  #echoed = 0;
  #waiting: { seq: number; resolve: (echoed: boolean) => void } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** When the connection was last replaced, until every subscription LISTENs on the fresh one: no beats meanwhile. */
  #replacedAt: number | undefined;

  /**
   * `connect` makes the listening connection (postgres.js, `max: 1`); `notify` sends a NOTIFY through the query
   * pool and rejects when the database does not take it.
   */
  constructor(
    private readonly connect: () => Sql,
    private readonly notify: (channel: string, payload: string) => Promise<unknown>,
  ) {}

  /** Listen on `subscription.channel` (throws when the LISTEN fails); returns the function that stops. */
  async listen(subscription: Subscription): Promise<() => Promise<void>> {
    await this.#subscribe((this.#sql ??= this.connect()), subscription);
    if (!this.#timer && !this.#closed) this.#schedule(HEARTBEAT_INTERVAL_MS);
    return async () => {
      const unlisten = this.#subscriptions.get(subscription);
      this.#subscriptions.delete(subscription);
      if (this.#subscriptions.size === 0) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      await unlisten?.().catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#waiting?.resolve(true);
    await this.#sql?.end({ timeout: 1 }).catch(() => {});
  }

  /** LISTEN on `sql` for one subscription (`again`: one that was listening before); heartbeats are kept from it. */
  async #subscribe(sql: Sql, subscription: Subscription, again = false): Promise<void> {
    const { unlisten } = await sql.listen(
      subscription.channel,
      (payload) => {
        if (payload.startsWith(HEARTBEAT_PREFIX)) this.#hear(payload);
        else if (this.#subscriptions.has(subscription)) subscription.onMessage(payload);
      },
      () => subscription.onConnect?.(),
    );
    if (again && !this.#subscriptions.has(subscription)) await unlisten(); // stopped while this LISTEN was under way
    else this.#subscriptions.set(subscription, unlisten);
  }

  /** A heartbeat's echo; those of other instances on the same channel are not ours to count. */
  #hear(payload: string): void {
    const [, id, seq] = payload.split(":");
    if (id !== this.#id) return;
    this.#echoed = Math.max(this.#echoed, Number(seq));
    if (this.#waiting && this.#echoed >= this.#waiting.seq) this.#waiting.resolve(true);
  }

  /** The next heartbeat in `delayMs`, then one every HEARTBEAT_INTERVAL_MS (never two at once). */
  #schedule(delayMs: number): void {
    const timer = setTimeout(async () => {
      const started = Date.now();
      await this.#beat().catch(() => {});
      if (this.#timer === timer && !this.#closed) this.#schedule(Math.max(0, HEARTBEAT_INTERVAL_MS - (Date.now() - started)));
    }, delayMs);
    timer.unref();
    this.#timer = timer;
  }

  /** One heartbeat: NOTIFY, then wait for the echo. Only a NOTIFY that went through and was not heard counts. */
  async #beat(): Promise<void> {
    const channel = this.#subscriptions.keys().next().value?.channel;
    if (!channel) return;
    // A NOTIFY sent before the fresh connection LISTENs would go unheard, and replace it again, and again.
    if (this.#replacedAt !== undefined && Date.now() - this.#replacedAt < RELISTEN_TIMEOUT_MS) return;
    const seq = ++this.#sent;
    const delivered = await within(this.notify(channel, `${HEARTBEAT_PREFIX}${this.#id}:${seq}`), NOTIFY_TIMEOUT_MS);
    // The database did not take it (down, hung, overloaded): that says nothing about the listener, and while the
    // database is away nobody can change what the subscribers cache, so they keep it.
    if (!delivered || this.#closed) return;
    const echoed =
      this.#echoed >= seq ||
      (await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ECHO_BOUND_MS);
        this.#waiting = { seq, resolve: (heard) => (clearTimeout(timer), resolve(heard)) };
      }));
    this.#waiting = undefined;
    if (!echoed && !this.#closed) this.#replace();
  }

  /** The connection is hung (or gone for good): tell the subscribers, then LISTEN again on a fresh one. */
  #replace(): void {
    const subscriptions = [...this.#subscriptions.keys()];
    for (const subscription of subscriptions) subscription.onLost?.();
    const old = this.#sql;
    const fresh = (this.#sql = this.connect());
    // A hung connection cannot be ended politely: drop it at once.
    void old?.end({ timeout: 0 }).catch(() => {});
    // A LISTEN that fails (the database refusing connections) is retried after the next unanswered heartbeat.
    const replacedAt = (this.#replacedAt = Date.now());
    const settled = () => {
      if (this.#replacedAt === replacedAt) this.#replacedAt = undefined;
    };
    void Promise.all(subscriptions.map((subscription) => this.#subscribe(fresh, subscription, true))).then(settled, settled);
  }
}

/** Whether `work` succeeded within `ms`. */
function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout>;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  return Promise.race([work.then(() => true, () => false), late]).finally(() => clearTimeout(timer));
}
