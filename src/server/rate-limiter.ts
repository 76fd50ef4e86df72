// Per-route rate limits (endpoint.yaml `rate_limit`), shared by every instance through the database without a query
// per request. Windows are fixed and start on whole multiples of their length by the database's clock, so every
// instance agrees where one ends. Each instance holds permits for a bucket (a route's policy and one token, user,
// address, or the whole route): it asks the shared ledger (rate-limit-store.ts) for a few at a time — a quarter of
// what is left — and answers from them in memory, asking for more before they run out. The ledger never hands out
// more than the limit, so N instances together admit at most the limit in a window; permits an instance holds but
// does not use are handed back after two quiet seconds for the others to use.
//
// A request waits for the database only for a bucket's first request in a window, or when its permits ran out
// before the next batch arrived. If the database cannot answer within a second, that bucket is counted by this
// instance alone until its window ends (each instance then admits up to the limit: N × limit at worst).
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { Principal } from "../auth/principal.ts";
import type { RateLimitKey, RateLimitPolicy } from "../config/schema.ts";
import type { Logger } from "../logger.ts";
import { deleteEndedWindows, reservePermits, returnPermits } from "./rate-limit-store.ts";

/** A request for permits slower than this gives up, and the bucket is counted here alone for the window. */
const RESERVE_TIMEOUT_MS = 1_000;
/** After the ledger said a window is used up, ask again no sooner than this (others may hand permits back). */
const RECHECK_AFTER_MS = 1_000;
/** Permits unused this long go back to the ledger. */
const IDLE_RETURN_MS = 2_000;
/**
 * A bucket idle this long, holding nothing, is forgotten: the ledger keeps its count, and the next request reads it
 * back with its first batch. Memory then follows the callers of the last few seconds, not every caller of a week.
 */
const IDLE_FORGET_MS = 10_000;
const SETTLE_EVERY_MS = 1_000;
const DELETE_ENDED_EVERY_MS = 60_000;
const WARN_EVERY_MS = 10_000;

/** The clocks the limiter reads: the database's (windows) and this instance's (timers). */
export interface LimiterClock {
  now(): number;
  localNow(): number;
}

interface Bucket {
  readonly routeName: string;
  /** What the policy counts apart (bucketKeyOf): the key in its map. */
  readonly who: string;
  policy: RateLimitPolicy;
  /** The ledger's key: SHA-256 of key and window length; made on first use. */
  ledgerKey?: string;
  /** Database epoch ms. */
  windowStart: number;
  windowEnd: number;
  /** Permits this instance holds and has not used. */
  allowance: number;
  /** Permits handed out in this window by every instance together, as last heard from the ledger. */
  granted: number;
  /** Requests this instance admitted in this window. */
  used: number;
  /** The size of the last batch received (asking for the next starts when half of it is left). */
  lastGot: number;
  /** Requests waiting for permits. */
  waiting: number;
  /** Local ms: the ledger said the window is used up; do not ask again before this. */
  recheckAt: number;
  /** The ledger could not be reached: this window is counted here alone. */
  alone: boolean;
  lastUsedAt: number;
  inFlight: Promise<void> | null;
}

export interface RateLimitOutcome {
  /** The limit the request would break, or null when it was admitted (and counted). */
  refusedBy: RateLimitPolicy | null;
  /** Seconds until the refusing limit's window ends. */
  retryAfterSeconds: number;
  /** The RateLimit-Policy header: every limit of the route. */
  policyHeader: string;
  /** The RateLimit header: what is left of each, and seconds until each window ends. */
  stateHeader: string;
}

/** What a limit counts apart, for one request. Anonymous callers of `token` and `user` limits count per address. */
export function bucketKeyOf(per: RateLimitKey, principal: Principal | null, address: () => string | undefined): string {
  if (per === "route") return "*";
  if (per === "token" && principal?.via === "token" && principal.tokenId) return `t:${principal.tokenId}`;
  // A browser session counts per user under `token` too; nobody signed in counts per address.
  if (per !== "address" && principal) return `u:${principal.id}`;
  return `a:${addressKey(address())}`;
}

/**
 * An address as counted: IPv4 as is, IPv6 by its /64 (one household or server usually gets a whole /64, so
 * counting single IPv6 addresses would let one client rotate through billions of fresh buckets).
 */
export function addressKey(address: string | undefined): string {
  if (!address) return "unknown";
  if (!address.includes(":")) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head, tail] = address.toLowerCase().split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

export class RateLimiter {
  /** route name → policy name → who → bucket: three lookups and no key built per request. */
  readonly #buckets = new Map<string, Map<string, Map<string, Bucket>>>();
  readonly #policyHeaders = new WeakMap<readonly RateLimitPolicy[], string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastDeleted = 0;
  #lastWarned = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: LimiterClock,
    private readonly log: Logger,
  ) {}

  /**
   * Count one request of `route` against each of its limits; admitted only when it fits all of them. `address` is
   * asked only when a limit counts addresses (finding the peer's address is a call into the server per request).
   */
  take(routeName: string, policies: readonly RateLimitPolicy[], principal: Principal | null, address: () => string | undefined): RateLimitOutcome | Promise<RateLimitOutcome> {
    let byPolicy = this.#buckets.get(routeName);
    if (!byPolicy) this.#buckets.set(routeName, (byPolicy = new Map()));
    const buckets: Bucket[] = [];
    for (const policy of policies) buckets.push(this.#bucket(byPolicy, routeName, policy, bucketKeyOf(policy.per, principal, address)));
    return this.#attempt(policies, buckets);
  }

  /** Buckets held in memory (those of the last few seconds' callers). */
  get bucketCount(): number {
    let count = 0;
    for (const byPolicy of this.#buckets.values()) for (const byWho of byPolicy.values()) count += byWho.size;
    return count;
  }

  /** Hand back unused permits every second, and forget ended windows. */
  start(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.settle(), SETTLE_EVERY_MS);
    this.#timer.unref();
  }

  /** Stop, handing every permit still held back to the ledger (for the instances that go on). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.settle(true);
  }

  /** One settling pass (the timer's; tests call it to skip the wait). `all`: return every held permit. */
  async settle(all = false): Promise<void> {
    const localNow = this.clock.localNow();
    const databaseNow = this.clock.now();
    const returns: Promise<void>[] = [];
    for (const byPolicy of this.#buckets.values())
      for (const byWho of byPolicy.values())
        for (const [who, bucket] of byWho) {
          if (databaseNow >= bucket.windowEnd && !bucket.inFlight) {
            byWho.delete(who);
            continue;
          }
          if (bucket.alone || bucket.inFlight) continue;
          const idleMs = localNow - bucket.lastUsedAt;
          if (bucket.allowance > 0 && (all || idleMs >= IDLE_RETURN_MS)) {
            const count = bucket.allowance;
            bucket.allowance = 0;
            bucket.granted -= count;
            returns.push(returnPermits(this.db, this.#ledgerKey(bucket), new Date(bucket.windowStart), count).catch(() => {}));
          }
          if (bucket.allowance === 0 && bucket.waiting === 0 && idleMs >= IDLE_FORGET_MS) byWho.delete(who);
        }
    if (localNow - this.#lastDeleted >= DELETE_ENDED_EVERY_MS) {
      this.#lastDeleted = localNow;
      returns.push(deleteEndedWindows(this.db).then(() => {}, () => {}));
    }
    await Promise.all(returns);
  }

  #attempt(policies: readonly RateLimitPolicy[], buckets: Bucket[]): RateLimitOutcome | Promise<RateLimitOutcome> {
    const localNow = this.clock.localNow();
    let unknown: Bucket[] | undefined;
    for (const bucket of buckets) {
      this.#roll(bucket);
      const state = stateOf(bucket, localNow);
      // Refused without counting against the other limits: a refused request uses nothing.
      if (state === "used-up") return this.#outcome(policies, buckets, bucket);
      if (state === "ask") (unknown ??= []).push(bucket);
    }
    if (unknown) {
      const waiting = unknown;
      for (const bucket of waiting) bucket.waiting++;
      return Promise.all(waiting.map((bucket) => this.#reserve(bucket))).then(() => {
        for (const bucket of waiting) bucket.waiting--;
        return this.#attempt(policies, buckets);
      });
    }
    for (const bucket of buckets) {
      if (!bucket.alone) bucket.allowance--;
      bucket.used++;
      bucket.lastUsedAt = localNow;
      // Ask for the next batch while half of this one is left, so the next requests need not wait.
      if (!bucket.alone && !bucket.inFlight && bucket.allowance <= bucket.lastGot >> 1 && bucket.granted < bucket.policy.limit) void this.#reserve(bucket);
    }
    return this.#outcome(policies, buckets, null);
  }

  #outcome(policies: readonly RateLimitPolicy[], buckets: Bucket[], refusing: Bucket | null): RateLimitOutcome {
    const databaseNow = this.clock.now();
    let policyHeader = this.#policyHeaders.get(policies);
    if (policyHeader === undefined) {
      policyHeader = policies.map((policy) => `"${policy.name}";q=${policy.limit};w=${policy.windowSeconds}`).join(", ");
      this.#policyHeaders.set(policies, policyHeader);
    }
    let stateHeader = "";
    for (const bucket of buckets) {
      const left = bucket.alone ? bucket.policy.limit - bucket.used : bucket.policy.limit - bucket.granted + bucket.allowance;
      stateHeader += `${stateHeader ? ", " : ""}"${bucket.policy.name}";r=${Math.max(0, left)};t=${secondsUntil(bucket.windowEnd, databaseNow)}`;
    }
    return {
      refusedBy: refusing?.policy ?? null,
      retryAfterSeconds: refusing ? Math.max(1, secondsUntil(refusing.windowEnd, databaseNow)) : 0,
      policyHeader,
      stateHeader,
    };
  }

  #bucket(byPolicy: Map<string, Map<string, Bucket>>, routeName: string, policy: RateLimitPolicy, who: string): Bucket {
    let byWho = byPolicy.get(policy.name);
    if (!byWho) byPolicy.set(policy.name, (byWho = new Map()));
    let bucket = byWho.get(who);
    if (!bucket) {
      bucket = { routeName, who, policy, windowStart: 0, windowEnd: 0, allowance: 0, granted: 0, used: 0, lastGot: 0, waiting: 0, recheckAt: 0, alone: false, lastUsedAt: this.clock.localNow(), inFlight: null };
      byWho.set(who, bucket);
    }
    bucket.policy = policy; // a reload may have changed the limit
    return bucket;
  }

  /** Start the window the database's clock is in, if the bucket's has ended (or a reload changed its length). */
  #roll(bucket: Bucket): void {
    const windowMs = bucket.policy.windowSeconds * 1000;
    const databaseNow = this.clock.now();
    if (databaseNow < bucket.windowEnd && bucket.windowEnd - bucket.windowStart === windowMs) return;
    bucket.windowStart = Math.floor(databaseNow / windowMs) * windowMs;
    bucket.windowEnd = bucket.windowStart + windowMs;
    bucket.ledgerKey = undefined;
    bucket.allowance = bucket.granted = bucket.used = bucket.lastGot = bucket.recheckAt = 0;
    bucket.alone = false;
    bucket.inFlight = null;
  }

  /** Ask the ledger for permits (one request per bucket at a time; those who need it share it). */
  #reserve(bucket: Bucket): Promise<void> {
    if (bucket.inFlight) return bucket.inFlight;
    const windowStart = bucket.windowStart;
    const { limit } = bucket.policy;
    const left = Math.max(0, limit - bucket.granted);
    // A quarter of what is left, or enough for everyone waiting; at least one (to hear of permits handed back).
    const want = Math.max(1, Math.min(Math.max(bucket.waiting, Math.ceil(left / 4)), Math.max(left, 1)));
    const request = withTimeout(reservePermits(this.db, this.#ledgerKey(bucket), new Date(windowStart), new Date(bucket.windowEnd), want, limit), RESERVE_TIMEOUT_MS);
    const done: Promise<void> = request.then(
      (grant) => {
        if (bucket.windowStart !== windowStart) return; // the window ended meanwhile: those permits are void
        bucket.allowance += grant.got;
        bucket.granted = grant.granted;
        bucket.lastGot = grant.got;
        if (grant.got === 0) bucket.recheckAt = this.clock.localNow() + RECHECK_AFTER_MS;
      },
      (error) => {
        if (bucket.windowStart !== windowStart) return;
        bucket.alone = true;
        this.#warnAlone(error);
      },
    ).finally(() => {
      if (bucket.inFlight === done) bucket.inFlight = null;
    });
    bucket.inFlight = done;
    return done;
  }

  #ledgerKey(bucket: Bucket): string {
    return (bucket.ledgerKey ??= new Bun.CryptoHasher("sha256").update(`${bucket.routeName}\n${bucket.policy.name}\n${bucket.who}\n${bucket.policy.windowSeconds}`).digest("hex"));
  }

  #warnAlone(error: unknown): void {
    const now = this.clock.localNow();
    if (now - this.#lastWarned < WARN_EVERY_MS) return;
    this.#lastWarned = now;
    this.log.warn("rate_limit_counted_alone", {
      cause: error instanceof Error ? error.message : String(error),
      note: "the database did not answer a request for rate-limit permits; this instance counts those limits alone until their windows end",
    });
  }
}

function stateOf(bucket: Bucket, localNow: number): "admit" | "used-up" | "ask" {
  if (bucket.alone) return bucket.used < bucket.policy.limit ? "admit" : "used-up";
  if (bucket.allowance > 0) return "admit";
  return bucket.recheckAt > localNow ? "used-up" : "ask";
}

function secondsUntil(end: number, now: number): number {
  return Math.max(0, Math.ceil((end - now) / 1000));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
