// A token never grants more than what created it: a token made with a token is its child, limited to some of
// its parent's routes, ending no later than it, and revoked with it. Over the REST API, as a script would use it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openDatabase } from "../../db/open.ts";
import { loadConfig } from "../../src/config/load.ts";
import { assembleEndpoint } from "../../src/server/assemble.ts";
import { createLogger, memorySink } from "../../src/logger.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { TEST_SECRET, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const DAY = 86_400;

interface Made {
  status: number;
  body: { id: string; token: string; owner: string; routes: string[] | null; parent_id: string | null; expires_at: string; code?: string };
}

for (const backend of testBackends()) {
  describe(`${backend.name}: tokens made with tokens`, () => {
    let server: TestEndpoint;
    let adminToken: string;
    const makeToken = async (token: string, body: Record<string, unknown>): Promise<Made> => {
      const response = await server.request("/api/tokens", { method: "POST", token, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: response.status, body: await response.json() };
    };
    const refusal = (made: Made) => ({ status: made.status, code: made.body.code });
    const show = async (id: string, token = adminToken) => (await server.request(`/api/tokens/${id}`, { token })).json();
    const whoami = async (token: string) => (await server.request("/whoami", { token })).status;
    /** After a revocation: PostgreSQL tells every instance (this one included) within a second, not at once. */
    const whoamiSoon = async (token: string) => refusedWithinASecond(() => server.request("/whoami", { token }));
    const tokenCount = async () => Number((await server.database.db.selectFrom("api_tokens").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      await server.addUser("joe", ["users"]);
      adminToken = (await server.tokenFor("root")).token;
    });
    afterAll(() => server.close());

    test("a token made with a token names its parent, in the answer and when shown later", async () => {
      const parent = await server.tokenFor("joe");
      const child = await makeToken(parent.token, { name: "child", expires_in_seconds: 600 });
      expect(child.status).toBe(201);
      expect(child.body).toMatchObject({ owner: "joe", name: "child", parent_id: parent.id });
      expect(await show(child.body.id, child.body.token)).toMatchObject({ id: child.body.id, parent_id: parent.id });
      const row = await server.database.db.selectFrom("api_tokens").select("parent_id").where("id", "=", child.body.id).executeTakeFirstOrThrow();
      expect(row.parent_id).toBe(parent.id);
      expect(await whoami(child.body.token)).toBe(200);
    });

    test("the audit finding: a token limited to creating tokens cannot mint itself an unrestricted year-long token", async () => {
      const limited = await server.tokenFor("joe", { routes: ["api-tokens-create"] });
      const before = await tokenCount();
      const audited = () => server.database.db.selectFrom("audit_log").select("id").where("action", "=", "token.create").execute();
      const auditedBefore = (await audited()).length;
      const escalation = await makeToken(limited.token, { name: "escalate", expires_in_seconds: 365 * DAY });
      expect(refusal(escalation)).toEqual({ status: 403, code: "token_scope_exceeds_parent" });
      expect(escalation.body).not.toHaveProperty("token");
      // Within its routes it still cannot outlive itself.
      const longer = await makeToken(limited.token, { name: "escalate", routes: ["api-tokens-create"], expires_in_seconds: 365 * DAY });
      expect(refusal(longer)).toEqual({ status: 403, code: "token_outlives_parent" });
      expect(await tokenCount()).toBe(before);
      expect((await audited()).length).toBe(auditedBefore);
    });

    test("a token limited to routes can only make tokens limited to some of those routes", async () => {
      const parent = await server.tokenFor("joe", { routes: ["whoami", "api-tokens-create"] });
      const before = await tokenCount();
      expect(refusal(await makeToken(parent.token, { name: "all" }))).toEqual({ status: 403, code: "token_scope_exceeds_parent" });
      expect(refusal(await makeToken(parent.token, { name: "more", routes: ["whoami", "api-me"] }))).toEqual({ status: 403, code: "token_scope_exceeds_parent" });
      expect(await tokenCount()).toBe(before);
      const narrower = await makeToken(parent.token, { name: "whoami only", routes: ["whoami"] });
      expect(narrower.status).toBe(201);
      expect(narrower.body).toMatchObject({ routes: ["whoami"], parent_id: parent.id });
      expect(await whoami(narrower.body.token)).toBe(200);
      expect((await server.request("/api/me", { token: narrower.body.token })).status).toBe(403);
      const same = await makeToken(parent.token, { name: "same", routes: ["api-tokens-create", "whoami"] });
      expect(same.status).toBe(201);
    });

    test("an unrestricted token may make a restricted child", async () => {
      const parent = await server.tokenFor("joe");
      const child = await makeToken(parent.token, { name: "narrow", routes: ["whoami"] });
      expect(child.status).toBe(201);
      expect(child.body).toMatchObject({ routes: ["whoami"], parent_id: parent.id });
      expect((await server.request("/api/tokens", { token: child.body.token })).status).toBe(403);
    });

    test("a child cannot be set to outlive its parent; left unset, it ends when its parent does", async () => {
      const parent = await server.tokenFor("joe", { expiresInSeconds: 3600 });
      const before = await tokenCount();
      expect(refusal(await makeToken(parent.token, { name: "longer", expires_in_seconds: 7200 }))).toEqual({ status: 403, code: "token_outlives_parent" });
      expect(await tokenCount()).toBe(before);
      const parentRecord = await show(parent.id);
      const unset = await makeToken(parent.token, { name: "default lifetime" });
      expect(unset.status).toBe(201);
      expect(unset.body.expires_at).toBe(parentRecord.expires_at);
      const shorter = await makeToken(parent.token, { name: "shorter", expires_in_seconds: 600 });
      expect(shorter.status).toBe(201);
      const minutes = (Date.parse(shorter.body.expires_at) - Date.now()) / 60_000;
      expect(minutes).toBeGreaterThan(9);
      expect(minutes).toBeLessThanOrEqual(10);
    });

    test("revoking a token revokes its children and their children", async () => {
      const parent = await server.tokenFor("joe");
      const child = await makeToken(parent.token, { name: "child" });
      const grandchild = await makeToken(child.body.token, { name: "grandchild" });
      expect(grandchild.body.parent_id).toBe(child.body.id);
      const sibling = (await server.tokenFor("joe")).token;
      for (const token of [parent.token, child.body.token, grandchild.body.token]) expect(await whoami(token)).toBe(200);
      expect((await server.request(`/api/tokens/${parent.id}`, { method: "DELETE", token: sibling })).status).toBe(204);
      for (const token of [parent.token, child.body.token, grandchild.body.token]) expect(await whoamiSoon(token)).toBe(401);
      expect(await whoami(sibling)).toBe(200);
      expect((await show(grandchild.body.id)).revoked_at).not.toBeNull();
      const audit = await server.database.db.selectFrom("audit_log").select("detail").where("action", "=", "token.revoke").orderBy("id", "desc").executeTakeFirstOrThrow();
      expect(audit.detail).toEqual({ token_id: parent.id, descendants_revoked: 2 });
    });

    test("a child whose parent was revoked before it was ever used is refused", async () => {
      const parent = await server.tokenFor("joe");
      const child = await makeToken(parent.token, { name: "never used" });
      expect((await server.request(`/api/tokens/${parent.id}`, { method: "DELETE", token: adminToken })).status).toBe(204);
      expect(await whoami(child.body.token)).toBe(401);
      expect((await makeToken(child.body.token, { name: "orphan" })).status).toBe(401);
      expect(await whoamiSoon(parent.token)).toBe(401);
    });

    test("a token made by a signed-in browser session, or on the account page, has no parent", async () => {
      const { cookie, csrfToken } = await server.signIn("joe");
      const response = await server.request("/api/tokens", {
        method: "POST",
        cookie,
        headers: { "content-type": "application/json", origin: server.origin, "x-csrf-token": csrfToken },
        body: JSON.stringify({ name: "by session" }),
      });
      expect(response.status).toBe(201);
      const made = await response.json();
      expect(made.parent_id).toBeNull();
      expect((await show(made.id)).parent_id).toBeNull();
      const page = await server.request("/account/tokens", {
        method: "POST",
        cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams({ _csrf: csrfToken, name: "on the page", days: "7" }).toString(),
      });
      expect(page.status).toBe(200);
      const row = await server.database.db.selectFrom("api_tokens").select("parent_id").where("name", "=", "on the page").executeTakeFirstOrThrow();
      expect(row.parent_id).toBeNull();
    });

    test("an admin's restricted token making a token for another user follows the same rule", async () => {
      const limited = await server.tokenFor("root", { routes: ["api-tokens-create", "whoami"] });
      const before = await tokenCount();
      expect(refusal(await makeToken(limited.token, { name: "for joe", username: "joe" }))).toEqual({ status: 403, code: "token_scope_exceeds_parent" });
      expect(refusal(await makeToken(limited.token, { name: "for joe", username: "joe", routes: ["events"] }))).toEqual({ status: 403, code: "token_scope_exceeds_parent" });
      expect(await tokenCount()).toBe(before);
      const forJoe = await makeToken(limited.token, { name: "for joe", username: "joe", routes: ["whoami"] });
      expect(forJoe.status).toBe(201);
      expect(forJoe.body).toMatchObject({ owner: "joe", routes: ["whoami"], parent_id: limited.id });
      expect(await (await server.request("/whoami", { token: forJoe.body.token })).json()).toMatchObject({ username: "joe" });
      // It is still revoked with the admin's token it came from.
      expect((await server.request(`/api/tokens/${limited.id}`, { method: "DELETE", token: adminToken })).status).toBe(204);
      expect(await whoamiSoon(forJoe.body.token)).toBe(401);
    });
  });

  describe(`${backend.name}: tokens made by the CLI`, () => {
    let database: FreshDatabase;
    let running: Awaited<ReturnType<typeof serve>> | undefined;
    const cli = (...args: string[]) => runCli([...args, "--database-url", database.url], { env: { ENDPOINT_SECRET: TEST_SECRET } });

    beforeAll(async () => {
      database = await backend.create({ migrated: true });
    });
    afterAll(async () => {
      await running?.close();
      await database.drop();
    });

    test("a CLI token has no parent, and the CLI's token revoke also revokes the tokens made with it", async () => {
      expect((await cli("add-user", "--username", "joe", "--password", "joe's long password")).exitCode).toBe(0);
      const created = await cli("token", "create", "--username", "joe", "--name", "from the cli", "--expires", "1d");
      expect(created.exitCode).toBe(0);
      const parentToken = created.stdout.trim();

      running = await serve(database.url);
      const mine = await (await running.request("/api/tokens", { token: parentToken })).json();
      const parentId: string = mine.items[0].id;
      expect(mine.items[0]).toMatchObject({ name: "from the cli", parent_id: null });
      const response = await running.request("/api/tokens", {
        method: "POST",
        token: parentToken,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "child", routes: ["whoami"] }),
      });
      expect(response.status).toBe(201);
      const child = await response.json();
      expect(child.parent_id).toBe(parentId);
      expect((await running.request("/whoami", { token: child.token })).status).toBe(200);

      // PGlite is single-process: the server lets go of the database while the CLI runs. PostgreSQL keeps serving.
      if (backend.name === "pglite") {
        await running.close();
        running = undefined;
      }
      const revoked = await cli("token", "revoke", "--id", parentId);
      expect(revoked.stdout.trim()).toBe(`token ${parentId} revoked`);
      running ??= await serve(database.url);

      // Every instance refuses a revoked token within a second.
      const server = running;
      expect(await refusedWithinASecond(() => server.request("/whoami", { token: child.token }))).toBe(401);
      expect(await refusedWithinASecond(() => server.request("/whoami", { token: parentToken }))).toBe(401);
      const audit = await running.database.db.selectFrom("audit_log").select(["actor", "detail"]).where("action", "=", "token.revoke").executeTakeFirstOrThrow();
      expect(audit.actor).toMatch(/^cli:/);
      expect(audit.detail).toEqual({ token_id: parentId, descendants_revoked: 1 });
    });
  });
}

/** The status once the answer is 401, or the last one seen after a second of asking. */
async function refusedWithinASecond(ask: () => Promise<Response>): Promise<number> {
  const deadline = Date.now() + 1000;
  let status = (await ask()).status;
  while (status !== 401 && Date.now() < deadline) {
    await Bun.sleep(20);
    status = (await ask()).status;
  }
  return status;
}

/** An Endpoint on a database the test did not make through startTestEndpoint (here: one the CLI prepared). */
async function serve(url: string) {
  const loaded = await loadConfig("endpoint.yaml", { env: process.env });
  if (!loaded.ok) throw new Error("test config does not validate");
  const database = await openDatabase(url);
  const endpoint = await assembleEndpoint({
    config: loaded.config,
    database,
    log: createLogger(memorySink(), "debug"),
    mode: "development",
    env: { ENDPOINT_SECRET: TEST_SECRET },
    peerAddress: () => "127.0.0.1",
  });
  const origin = new URL(loaded.config.server.publicUrl).origin;
  return {
    database,
    request(path: string, init: RequestInit & { token?: string } = {}) {
      const headers = new Headers(init.headers);
      if (init.token) headers.set("authorization", `Bearer ${init.token}`);
      return endpoint.app.handle(new Request(origin + path, { ...init, headers }));
    },
    async close() {
      await endpoint.shutdown();
      await database.close();
    },
  };
}
