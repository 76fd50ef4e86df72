// The database's time as this instance reckons it, without asking per request. Every expiry the guard judges —
// a session's idle and absolute limits, a token's end, the sudo window — is a timestamp the database wrote with
// its own now(), so it is compared with the database's clock, never the instance's: an instance whose clock is
// minutes off still ends sessions and tokens on time. The offset between the two clocks is measured at start and
// every `measureEverySeconds` (30) with one query; its error is at most half that query's round trip (well under a
// millisecond on a LAN), plus whatever the instance's clock jumps between two measurements.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { Logger } from "../logger.ts";

/** A sample whose round trip took longer than this is not trusted (it could be off by half of it). */
const MAX_ROUND_TRIP_MS = 1_000;
/** An offset beyond this is logged as a warning: the instance's clock needs fixing (NTP), even though we cope. */
const WARN_OFFSET_MS = 2_000;

export interface ClockSample {
  /** Database time minus this instance's time, in ms. */
  offsetMs: number;
  /** How far off `offsetMs` may be: half the measuring query's round trip. */
  errorMs: number;
}

export class DatabaseClock {
  #offsetMs = 0;
  #errorMs = Number.POSITIVE_INFINITY;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `localNow` is this instance's clock (epoch ms); tests pass a skewed one. */
  constructor(
    private readonly db: Kysely<Database>,
    readonly localNow: () => number = Date.now,
  ) {}

  /** The database's time now (epoch ms), from the local clock and the last measured offset. */
  now(): number {
    return this.localNow() + this.#offsetMs;
  }

  /** A database time (epoch ms) as the local clock reads it, for code that compares with `Date.now()`. */
  toLocal(databaseMs: number): number {
    return databaseMs - this.#offsetMs;
  }

  get sample(): ClockSample {
    return { offsetMs: this.#offsetMs, errorMs: this.#errorMs };
  }

  /** Read the database's clock once and update the offset; a sample with a slow round trip is kept out. */
  async measure(): Promise<ClockSample> {
    const sent = this.localNow();
    const { rows } = await sql<{ now: Date }>`select clock_timestamp() as now`.execute(this.db);
    const received = this.localNow();
    const roundTripMs = received - sent;
    // The database read its clock somewhere within the round trip; the middle is off by at most half of it.
    if (roundTripMs <= MAX_ROUND_TRIP_MS || !Number.isFinite(this.#errorMs)) {
      this.#offsetMs = rows[0]!.now.getTime() - (sent + received) / 2;
      this.#errorMs = roundTripMs / 2;
    }
    return this.sample;
  }

  /** Measure now and every `measureEverySeconds`; a failed measurement keeps the last offset. */
  async follow(log: Logger, measureEverySeconds = 30): Promise<void> {
    let logged = 0; // the offset last warned about: once, and again only when it moves
    const measure = async () => {
      try {
        const { offsetMs, errorMs } = await this.measure();
        if (Math.abs(offsetMs) > WARN_OFFSET_MS && Math.abs(offsetMs - logged) > WARN_OFFSET_MS / 2) {
          logged = offsetMs;
          log.warn("clock_offset", {
            offset_ms: Math.round(offsetMs),
            error_ms: Math.ceil(errorMs),
            note: "this machine's clock differs from the database's; expiries follow the database",
          });
        }
      } catch (error) {
        log.warn("clock_offset_unmeasured", { cause: String(error) });
      }
    };
    await measure();
    clearInterval(this.#timer);
    this.#timer = setInterval(measure, measureEverySeconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
