// Write-behind for "last used" times: the guard notes activity in memory, and a timer writes it in batches,
// at most once a minute per session or token, never one write per request.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { Logger } from "../logger.ts";
import { touchSessions } from "./sessions.ts";

const REWRITE_AFTER_MS = 60_000;

export class ActivityRecorder {
  #pendingTokens = new Set<string>();
  #pendingSessions = new Set<string>();
  /** When each token and session was last marked for writing (epoch ms). */
  #tokensWritten = new Map<string, number>();
  #sessionsWritten = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
  ) {}

  start(flushEveryMs = 5_000): void {
    this.#timer = setInterval(() => void this.flush(), flushEveryMs);
    this.#timer.unref();
  }

  /** Note a token's use; true when this use will be written (at most once a minute per token). */
  tokenUsed(id: string, now = Date.now()): boolean {
    return this.#note(this.#tokensWritten, this.#pendingTokens, id, now);
  }

  sessionSeen(idHash: string, now = Date.now()): boolean {
    return this.#note(this.#sessionsWritten, this.#pendingSessions, idHash, now);
  }

  // Runs on every guarded request: one Map lookup, no key built.
  #note(lastWritten: Map<string, number>, pending: Set<string>, id: string, now: number): boolean {
    const last = lastWritten.get(id);
    if (last !== undefined && now - last < REWRITE_AFTER_MS) return false;
    if (lastWritten.size > 100_000) lastWritten.clear();
    lastWritten.set(id, now);
    pending.add(id);
    return true;
  }

  /** Write what is pending; on failure keep it for the next flush. */
  async flush(): Promise<void> {
    const tokens = [...this.#pendingTokens];
    const sessions = [...this.#pendingSessions];
    this.#pendingTokens.clear();
    this.#pendingSessions.clear();
    try {
      if (tokens.length) await this.db.updateTable("api_tokens").set({ last_used_at: sql`now()` }).where("id", "in", tokens).execute();
      if (sessions.length) await touchSessions(this.db, sessions);
    } catch (error) {
      for (const id of tokens) this.#pendingTokens.add(id);
      for (const id of sessions) this.#pendingSessions.add(id);
      this.log.warn("activity_flush_failed", { tokens: tokens.length, sessions: sessions.length, cause: String(error) });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
