// The database goes away under load and comes back: requests that need it get 503 quickly, /healthz stays up,
// /readyz says not ready, what the auth cache can answer keeps working, everything recovers without a restart,
// and no write the server acknowledged is lost.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import postgres from "postgres";
import { runCli } from "../support/cli.ts";
import { type ServerProcess, startServerProcess } from "../support/server-process.ts";
import { type Cluster, clusterUnavailable, createCluster } from "../support/throwaway-cluster.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const SECRET = "outage-secret-0123456789-abcdefghijklmnopqrstu";
const unavailable = clusterUnavailable();
if (unavailable) console.log(`database-outage.test.ts: no throwaway PostgreSQL cluster: ${unavailable}`);

describe.skipIf(unavailable !== null)("the database stops and starts under load", () => {
  let cluster: Cluster;
  let server: ServerProcess;
  let token: string;

  beforeAll(async () => {
    cluster = createCluster();
    const cli = (...args: string[]) => runCli([...args, "--database-url", cluster.url], { env: { ENDPOINT_SECRET: SECRET } });
    for (const args of [["init-db"], ["add-user", "--username", "ci", "--password", "a long password 123"], ["add-group-member", "--groupname", "services", "--membername", "ci"]])
      expect((await cli(...args)).exitCode).toBe(0);
    token = (await cli("token", "create", "--username", "ci", "--name", "load", "--config", join(FIXTURES, "lifecycle.yaml"))).stdout.trim();
    server = await startServerProcess(["serve", "--config", join(FIXTURES, "lifecycle.yaml"), "--database-url", cluster.url, "--port", "0"], { env: { ENDPOINT_SECRET: SECRET } });
  });
  afterAll(async () => {
    server?.child.kill("SIGTERM");
    await server?.child.exited;
    cluster?.destroy();
  });

  test("503 while down, healthz up, readyz down, cached auth still works, full recovery, no acknowledged write lost", async () => {
    const acknowledged: string[] = [];
    const statuses: number[] = [];
    const answers: Array<{ started: number; finished: number; status: number }> = [];
    let slowest = 0;
    let sequence = 0;
    let running = true;
    const post = async () => {
      const kind = `load.${++sequence}`;
      const started = performance.now();
      const response = await fetch(`${server.url}/hooks/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ kind }),
      });
      slowest = Math.max(slowest, performance.now() - started);
      statuses.push(response.status);
      answers.push({ started: Date.now() - (performance.now() - started), finished: Date.now(), status: response.status });
      if (response.status === 201) acknowledged.push(kind);
      else expect(await response.text()).not.toMatch(/ECONNREFUSED|postgres|connect/i);
    };
    // Eight clients, each sending its next request as soon as the last one is answered.
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (running) await post();
      }),
    );

    await Bun.sleep(700);
    cluster.stop("immediate");
    const stoppedAt = Date.now();
    slowest = 0;
    await Bun.sleep(1500);
    const whileDown = {
      health: (await fetch(`${server.url}/healthz`)).status,
      ready: (await fetch(`${server.url}/readyz`)).status,
      whoami: (await fetch(`${server.url}/whoami`, { headers: { authorization: `Bearer ${token}` } })).status,
    };
    const slowestWhileDown = slowest;
    cluster.start();
    const downStatuses = new Set(answers.filter((a) => a.started > stoppedAt + 100 && a.finished < Date.now()).map((a) => a.status));
    const restartedAt = Date.now();
    let recoveredAfter = -1;
    while (Date.now() - restartedAt < 10_000) {
      if ((await fetch(`${server.url}/readyz`)).status === 200 && statuses.at(-1) === 201) {
        recoveredAfter = Date.now() - restartedAt;
        break;
      }
      await Bun.sleep(100);
    }
    running = false;
    await load;
    if (recoveredAfter < 0) console.log("after restart:", JSON.stringify(answers.filter((a) => a.started > restartedAt).map((a) => [a.started - restartedAt, a.status, a.finished - a.started]).slice(0, 60)), await (await fetch(`${server.url}/readyz`)).text(), server.output().split("\n").filter((l) => l.includes("error")).slice(-5).join("\n"));

    expect(whileDown).toEqual({ health: 200, ready: 503, whoami: 200 });
    expect([...downStatuses]).toEqual([503]);
    // The request deadline is 2 s; no request may hang past it (plus a little scheduling).
    expect(slowestWhileDown).toBeLessThan(2500);
    expect(recoveredAfter).toBeGreaterThanOrEqual(0);
    expect(recoveredAfter).toBeLessThan(5000);

    const sql = postgres(cluster.url, { max: 1, onnotice: () => {} });
    const stored = new Set((await sql<{ kind: string }[]>`select kind from events`).map((r) => r.kind));
    await sql.end();
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(acknowledged.filter((kind) => !stored.has(kind))).toEqual([]);
  });
});
