// A notification listener that hangs without closing (its backend stopped with SIGSTOP) is noticed by its
// heartbeat: the instance stops trusting its caches and listens on a fresh connection, so a revocation made
// meanwhile is honoured within 5 s, not at the next 30 s resync. Before, such a token stayed accepted for 12–26 s.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { sql } from "kysely";
import postgres from "postgres";
import { type DatabaseHandle, openDatabase } from "../../db/open.ts";
import { accountRules } from "../../src/accounts/rules.ts";
import { revokeToken } from "../../src/accounts/tokens.ts";
import { AUTH_CHANNEL } from "../../src/auth/auth-cache.ts";
import { runCli } from "../support/cli.ts";
import { type ServerProcess, startServerProcess } from "../support/server-process.ts";
import { type Cluster, clusterUnavailable, createCluster } from "../support/throwaway-cluster.ts";

const CONFIG = join(import.meta.dir, "fixtures", "lifecycle.yaml");
const SECRET = "heartbeat-secret-0123456789-abcdefghijklmnopqrs";
const actor = { name: "heartbeat-test", source: "cli" as const, recentlyAuthenticated: true };
const unavailable = clusterUnavailable();
if (unavailable) console.log(`listener-heartbeat.test.ts: no throwaway PostgreSQL cluster: ${unavailable}`);

/** Poll `check` every 100 ms until it holds or `ms` have passed; returns its last answer. */
async function eventually<T>(check: () => Promise<T> | T, holds: (value: T) => boolean, ms: number): Promise<T> {
  const started = Date.now();
  let value = await check();
  while (!holds(value) && Date.now() - started < ms) {
    await Bun.sleep(100);
    value = await check();
  }
  return value;
}

/** The token's record id (its `jti`). */
const tokenId = (token: string) => JSON.parse(Buffer.from(token.slice("ept_".length).split(".")[1]!, "base64url").toString()).jti as string;

describe.skipIf(unavailable !== null)("the listener's heartbeat", () => {
  let cluster: Cluster;
  let handle: DatabaseHandle;
  let server: ServerProcess;
  let stoppedPid: number | undefined;
  const cli = (...args: string[]) => runCli([...args, "--database-url", cluster.url, "--config", CONFIG], { env: { ENDPOINT_SECRET: SECRET } });
  const newToken = async (name: string) => {
    const created = await cli("token", "create", "--username", "ci", "--name", name);
    expect(created).toMatchObject({ exitCode: 0 });
    const token = created.stdout.trim();
    return { token, id: tokenId(token) };
  };
  const whoami = async (token: string) => (await fetch(`${server.url}/whoami`, { headers: { authorization: `Bearer ${token}` } })).status;
  const listenerPids = async () =>
    (await sql<{ pid: number }>`select pid from pg_stat_activity where application_name = 'endpoint-listener'`.execute(handle.db)).rows.map((r) => r.pid);
  const count = (event: string) => server.output().split(`"event":"${event}"`).length - 1;

  beforeAll(async () => {
    cluster = createCluster();
    for (const args of [["init-db"], ["add-user", "--username", "ci", "--password", "a long password 123"], ["add-group-member", "--groupname", "services", "--membername", "ci"]])
      expect(await cli(...args)).toMatchObject({ exitCode: 0 });
    handle = await openDatabase(cluster.url, { statementTimeoutMs: 0 });
    server = await startServerProcess(["serve", "--config", CONFIG, "--database-url", cluster.url, "--port", "0"], { env: { ENDPOINT_SECRET: SECRET } });
  });
  afterAll(async () => {
    // A stopped backend would also stop the cluster's shutdown.
    if (stoppedPid) process.kill(stoppedPid, "SIGCONT");
    server?.child.kill("SIGTERM");
    await server?.child.exited;
    await handle?.close();
    cluster?.destroy();
  });

  test("a token revoked while the listener hangs is refused within 5 seconds; then listening and caching resume", async () => {
    const revoked = await newToken("revoked-while-hung");
    const kept = await newToken("kept");
    expect(await whoami(revoked.token)).toBe(200); // its record is cached now

    const [hung, ...others] = await listenerPids();
    expect(others).toEqual([]);
    process.kill(hung!, "SIGSTOP"); // the connection stays open; its backend just stops answering
    stoppedPid = hung;
    await revokeToken(handle.db, accountRules(), actor, revoked.id); // its NOTIFY reaches nobody
    expect(await eventually(() => whoami(revoked.token), (status) => status === 401, 5000)).toBe(401);

    process.kill(hung!, "SIGCONT");
    stoppedPid = undefined;
    // One listener again, on a fresh backend: the hung one finds its client gone and exits.
    const pids = await eventually(listenerPids, (now) => now.length === 1 && now[0] !== hung, 10_000);
    expect(pids.length).toBe(1);
    expect(pids[0]).not.toBe(hung);
    // The log says so: the alarm, and a second "listening" (at start, then on the fresh connection).
    const logged = () => ({ silent: count("auth_cache_listener_silent") >= 1, listening: count("auth_cache_listening") >= 2 });
    expect(await eventually(logged, (seen) => seen.silent && seen.listening, 5000)).toEqual({ silent: true, listening: true });

    // Its heartbeats are answered again: no new alarm over several of them.
    const alarms = count("auth_cache_listener_silent");
    await Bun.sleep(4000);
    expect(count("auth_cache_listener_silent")).toBe(alarms);

    // Caching is back: a change made with the triggers off (so with no NOTIFY) goes unseen while the record is
    // cached, which only the cache can explain.
    expect(await whoami(kept.token)).toBe(200);
    await handle.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      await trx.updateTable("api_tokens").set({ revoked_at: sql`now()` }).where("id", "=", kept.id).execute();
    });
    expect(await whoami(kept.token)).toBe(200);
  });

  test("heartbeats never reach the channel's subscribers, this instance's or another's", async () => {
    const heard: string[] = [];
    const unlisten = await handle.listen(AUTH_CHANNEL, (payload) => heard.push(payload));
    // A plain listener on the same channel, beside it: it hears every heartbeat.
    const raw = postgres(cluster.url, { max: 1, onnotice: () => {} });
    const onTheWire: string[] = [];
    await raw.listen(AUTH_CHANNEL, (payload) => onTheWire.push(payload));
    await Bun.sleep(4000); // two of this handle's heartbeats, and two of the server's
    await unlisten();
    await raw.end();
    const senders = new Set(onTheWire.filter((payload) => payload.startsWith("heartbeat:")).map((payload) => payload.split(":")[1]));
    expect(senders.size).toBe(2);
    expect(heard.filter((payload) => payload.startsWith("heartbeat:"))).toEqual([]);
  });
});
