// Sessions, token records and users (with their groups) kept in memory, so the guard answers without a database
// round trip. PostgreSQL triggers NOTIFY endpoint_auth on every change to those rows, whoever makes it; each
// instance drops what changed. A reconnect of the listener, and a periodic resync, drop everything, because
// notifications sent while the listener was away are lost. While the listener hangs (its heartbeat unanswered),
// nothing is cached: every lookup goes to the database until the listener is back.
import type { Kysely } from "kysely";
import type { DatabaseHandle } from "../../db/open.ts";
import type { Database } from "../../db/schema.ts";
import type { Logger } from "../logger.ts";
import { DatabaseClock } from "./database-clock.ts";
import { type SessionRecord, loadSession } from "./sessions.ts";

export interface UserRecord {
  id: string;
  username: string;
  disabled: boolean;
  groups: readonly string[];
}

export interface TokenRecord {
  id: string;
  userId: string;
  routes: readonly string[] | null;
  expiresAt: number; // epoch ms, database time: judged against `clock.now()`
  revoked: boolean;
}

export const AUTH_CHANNEL = "endpoint_auth";

/** A Map that forgets its oldest entries beyond `limit`. */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.limit) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}

export class AuthCache {
  readonly #users: BoundedMap<string, UserRecord | null>;
  readonly #sessions: BoundedMap<string, SessionRecord | null>;
  readonly #tokens: BoundedMap<string, TokenRecord | null>;
  /** Bumped by every invalidation: a load that started before one must not store its (maybe stale) result. */
  #epoch = 0;
  #resync: ReturnType<typeof setInterval> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  /** False while the listener may be missing notifications: lookups then bypass the cache. */
  #following = true;
  /** The database's time, for judging the expiries of what is cached here without a round trip. */
  readonly clock: DatabaseClock;
  /** Plain counts for /metrics (read only when scraped): lookups answered here or not, and listener reconnects. */
  readonly stats = { hits: 0, misses: 0, reconnects: 0 };
  #listening = false;

  constructor(
    private readonly db: Kysely<Database>,
    { maxEntries = 50_000, localClock }: { maxEntries?: number; localClock?: () => number } = {},
  ) {
    this.clock = new DatabaseClock(db, localClock);
    this.#users = new BoundedMap(maxEntries);
    this.#sessions = new BoundedMap(maxEntries);
    this.#tokens = new BoundedMap(maxEntries);
  }

  /** Follow changes on the database's notification channel; resync every `resyncSeconds` as a fallback. */
  async follow(handle: DatabaseHandle, log: Logger, resyncSeconds = 30): Promise<void> {
    this.#unlisten = await handle.listen(
      AUTH_CHANNEL,
      (payload) => this.invalidate(payload),
      () => {
        log.info("auth_cache_listening", { channel: AUTH_CHANNEL });
        if (this.#listening) this.stats.reconnects++;
        this.#listening = true;
        this.#following = true;
        this.clear();
      },
      () => {
        if (this.#following) log.warn("auth_cache_listener_silent", { channel: AUTH_CHANNEL, note: "caching paused until the listener reconnects" });
        this.#following = false;
        this.clear();
      },
    );
    this.#resync = setInterval(() => this.clear(), resyncSeconds * 1000);
    this.#resync.unref();
    await this.clock.follow(log, resyncSeconds);
  }

  async stop(): Promise<void> {
    this.clock.stop();
    clearInterval(this.#resync);
    await this.#unlisten?.().catch(() => {});
  }

  /** Apply one notification: `<table>:<key>`. */
  invalidate(message: string): void {
    this.#epoch++;
    const colon = message.indexOf(":");
    const table = message.slice(0, colon);
    const key = message.slice(colon + 1);
    if (table === "sessions") this.#sessions.delete(key);
    else if (table === "api_tokens") this.#tokens.delete(key);
    else if (table === "users" || table === "group_members") this.#users.delete(key);
    else if (table === "groups") this.#users.clear(); // a renamed or removed group changes many users
    else this.clear();
  }

  clear(): void {
    this.#epoch++;
    this.#users.clear();
    this.#sessions.clear();
    this.#tokens.clear();
  }

  user(id: string): Promise<UserRecord | null> | UserRecord | null {
    return this.#cached(this.#users, id, () => loadUser(this.db, id));
  }

  session(idHash: string): Promise<SessionRecord | null> | SessionRecord | null {
    return this.#cached(this.#sessions, idHash, () => loadSession(this.db, idHash));
  }

  token(id: string): Promise<TokenRecord | null> | TokenRecord | null {
    return this.#cached(this.#tokens, id, () => loadToken(this.db, id));
  }

  /** Drop one session at once on this instance (logout), before the notification comes back. */
  forgetSession(idHash: string): void {
    this.invalidate(`sessions:${idHash}`);
  }

  /** Drop token records at once on this instance (a revoke made here), before the notifications come back. */
  forgetTokens(ids: readonly string[]): void {
    for (const id of ids) this.invalidate(`api_tokens:${id}`);
  }

  #cached<V>(map: BoundedMap<string, V | null>, key: string, load: () => Promise<V | null>): Promise<V | null> | V | null {
    if (!this.#following) {
      this.stats.misses++;
      return load();
    }
    const hit = map.get(key);
    if (hit !== undefined) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    const epoch = this.#epoch;
    return load().then((value) => {
      if (epoch === this.#epoch) map.set(key, value);
      return value;
    });
  }
}

async function loadUser(db: Kysely<Database>, id: string): Promise<UserRecord | null> {
  const rows = await db
    .selectFrom("users")
    .leftJoin("group_members", "group_members.user_id", "users.id")
    .leftJoin("groups", "groups.id", "group_members.group_id")
    .select(["users.id", "users.username", "users.disabled", "groups.name as group"])
    .where("users.id", "=", id)
    .execute();
  const first = rows[0];
  if (!first) return null;
  return {
    id: first.id,
    username: first.username,
    disabled: first.disabled,
    groups: Object.freeze(rows.flatMap((r) => (r.group ? [r.group] : []))),
  };
}

async function loadToken(db: Kysely<Database>, id: string): Promise<TokenRecord | null> {
  const row = await db
    .selectFrom("api_tokens")
    .select(["id", "user_id", "routes", "expires_at", "revoked_at"])
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) return null;
  return {
    id: row.id,
    userId: row.user_id,
    routes: row.routes ? Object.freeze([...row.routes]) : null,
    expiresAt: row.expires_at.getTime(),
    revoked: row.revoked_at !== null,
  };
}
