// When the notification listener's connection dies, changes made meanwhile are not lost: the cache is dropped
// when the listener reconnects, so a revocation made in the gap still takes effect.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { accountRules } from "../../src/accounts/rules.ts";
import { revokeToken } from "../../src/accounts/tokens.ts";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const postgresBackend = testBackends().find((b) => b.name === "postgres");
if (!postgresBackend) console.log("listener.test.ts: no PostgreSQL (set DATABASE_URL or TEST_DATABASE_URL); this test needs a server connection to cut");

describe.skipIf(!postgresBackend)("postgres: the listener reconnects", () => {
  let server: TestEndpoint;
  beforeAll(async () => {
    server = await startTestEndpoint(postgresBackend!);
    await server.addUser("ci", ["services"]);
  });
  afterAll(() => server.close());

  test("a token revoked while the listener was cut off is refused within 2 seconds", async () => {
    const { token, id } = await server.tokenFor("ci");
    const call = () => server.request("/whoami", { token });
    expect((await call()).status).toBe(200); // now cached
    const listeners = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`.execute(server.database.db);
    expect(listeners.rows.length).toBe(1);
    await sql`select pg_terminate_backend(${listeners.rows[0]!.pid})`.execute(server.database.db);
    await revokeToken(server.database.db, accountRules(), { name: "t", source: "cli", recentlyAuthenticated: true }, id); // its NOTIFY has nobody to hear it
    const deadline = Date.now() + 2000;
    let status = 200;
    while (Date.now() < deadline && status !== 401) {
      status = (await call()).status;
      await Bun.sleep(50);
    }
    expect(status).toBe(401);
  });
});
