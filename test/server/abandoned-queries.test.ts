// A statement whose request gave up stops on the database too. Before, an overload answered 503 left its
// statements running on the server for minutes: postgres.js had queued them behind each other on busy connections,
// where the server ran them one by one (each up to a 10 s statement_timeout) long after every client had left.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { sql } from "kysely";
import postgres from "postgres";
import { type DatabaseHandle, openDatabase } from "../../db/open.ts";
import { runCli } from "../support/cli.ts";
import { type ServerProcess, startServerProcess } from "../support/server-process.ts";
import { type Cluster, clusterUnavailable, createCluster } from "../support/throwaway-cluster.ts";

const CONFIG = join(import.meta.dir, "fixtures", "abandoned-queries.yaml");
const SECRET = "abandoned-secret-0123456789-abcdefghijklmnopqrs";
const unavailable = clusterUnavailable();
if (unavailable) console.log(`abandoned-queries.test.ts: no throwaway PostgreSQL cluster: ${unavailable}`);

/** Statements of Endpoint's query pools still at work (the heartbeat's NOTIFY, a millisecond long, aside). */
async function stillRunning(probe: postgres.Sql): Promise<Array<{ pid: number; state: string; query: string }>> {
  return probe`
    select pid, state, query from pg_stat_activity
    where datname = current_database() and application_name = 'endpoint'
      and state in ('active', 'idle in transaction') and query not like 'select pg_notify(%'`;
}

describe.skipIf(unavailable !== null)("abandoned queries", () => {
  let cluster: Cluster;
  let probe: postgres.Sql;

  beforeAll(async () => {
    cluster = createCluster();
    expect((await runCli(["init-db", "--config", CONFIG, "--database-url", cluster.url], { env: { ENDPOINT_SECRET: SECRET } })).exitCode).toBe(0);
    probe = postgres(cluster.url, { max: 1, onnotice: () => {}, connection: { application_name: "abandoned-queries-probe" } });
  });
  afterAll(async () => {
    await probe?.end();
    cluster?.destroy();
  });

  describe("on a running server", () => {
    let server: ServerProcess;
    beforeAll(async () => {
      server = await startServerProcess(["serve", "--config", CONFIG, "--database-url", cluster.url, "--port", "0"], { env: { ENDPOINT_SECRET: SECRET } });
    });
    afterAll(async () => {
      server?.child.kill("SIGTERM");
      await server?.child.exited;
    });

    test("5 seconds after the last 503 of an overload, none of its statements is still running", async () => {
      // Three times the pool (10) of 20-second statements at once, twice: every request passes its 2 s deadline.
      const statuses: number[] = [];
      let lastUnavailableAt = 0;
      for (let wave = 0; wave < 2; wave++) {
        await Promise.all(
          Array.from({ length: 30 }, async () => {
            const response = await fetch(`${server.url}/sleep?seconds=20`);
            await response.arrayBuffer();
            statuses.push(response.status);
            if (response.status === 503) lastUnavailableAt = Date.now();
          }),
        );
      }
      expect(new Set(statuses)).toEqual(new Set([503]));

      await Bun.sleep(Math.max(0, lastUnavailableAt + 5000 - Date.now()));
      expect(await stillRunning(probe)).toEqual([]);
      // The pool is whole again: a statement within the deadline is answered.
      expect((await fetch(`${server.url}/sleep?seconds=0`)).status).toBe(200);
    });
  });

  describe("through the query pool alone", () => {
    let handle: DatabaseHandle;
    beforeAll(async () => {
      // No statement_timeout, as for the CLI: only the cancel can stop what the deadline gave up on.
      handle = await openDatabase(cluster.url, { statementTimeoutMs: 0, queryTimeoutMs: 1000 });
    });
    afterAll(() => handle?.close());

    test("queries past their deadline are cancelled on the server, not left queued behind one another", async () => {
      const failures = await Promise.all(
        Array.from({ length: 40 }, () => sql`select pg_sleep(60)`.execute(handle.db).then(() => "finished", (error: { code?: string }) => error.code)),
      );
      expect(new Set(failures)).toEqual(new Set(["QUERY_TIMEOUT"]));
      let running = await stillRunning(probe);
      for (let waited = 0; running.length && waited < 5000; waited += 100) {
        await Bun.sleep(100);
        running = await stillRunning(probe);
      }
      expect(running).toEqual([]);
    });

    test("the server's own limit ends a statement the same way the deadline does", async () => {
      const limited = await openDatabase(cluster.url, { statementTimeoutMs: 200, queryTimeoutMs: 5000 });
      try {
        const outcome = await sql`select pg_sleep(2)`.execute(limited.db).then(() => "finished", (error: { code?: string }) => error.code);
        expect(outcome).toBe("QUERY_TIMEOUT"); // a 503, like the deadline's, not a 500
      } finally {
        await limited.close();
      }
    });
  });
});
