// nginx sends a PUT or DELETE again, possibly to another instance, when the first answer was lost. Sent again,
// each REST change answers as the first one did (a PUT that finds its membership: 200 with the same body where the
// creation was 201), changes nothing more, and writes no second audit row. A name that was never there is still
// 404. The CLI, for people, still says "already a member" and "not a member".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Kysely, sql } from "kysely";
import { type DatabaseHandle, openDatabase } from "../../db/open.ts";
import type { Database } from "../../db/schema.ts";
import { addMember, createGroup } from "../../src/accounts/groups.ts";
import { accountRules } from "../../src/accounts/rules.ts";
import { createUser } from "../../src/accounts/users.ts";
import { issueToken } from "../../src/auth/issue-token.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger, memorySink } from "../../src/logger.ts";
import { type Endpoint, assembleEndpoint } from "../../src/server/assemble.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { PASSWORD, TEST_SECRET, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const setup = { name: "test-setup", source: "cli" as const, recentlyAuthenticated: true };

/** Audit rows for `action` on `target` (and, for memberships, `member`). */
async function auditRows(db: Kysely<Database>, action: string, target: string, member?: string): Promise<number> {
  let query = db.selectFrom("audit_log").select((eb) => eb.fn.countAll<string>().as("n")).where("action", "=", action).where("target", "=", target);
  if (member) query = query.where(sql<string>`detail->>'member'`, "=", member);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

async function members(db: Kysely<Database>, group: string): Promise<string[]> {
  const rows = await db
    .selectFrom("group_members")
    .innerJoin("groups", "groups.id", "group_members.group_id")
    .innerJoin("users", "users.id", "group_members.user_id")
    .where("groups.name", "=", group)
    .select("users.username")
    .orderBy("users.username")
    .execute();
  return rows.map((r) => r.username);
}

/** Status and body (JSON, or null when empty) of an answer. */
async function seen(response: Response): Promise<{ status: number; body: unknown }> {
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

for (const backend of testBackends()) {
  describe(`${backend.name}: a PUT or DELETE sent again answers as the first one did`, () => {
    let server: TestEndpoint;
    let db: Kysely<Database>;
    let adminToken: string;
    let joeToken: string;
    const call = (method: string, path: string, { token, body }: { token?: string; body?: unknown } = {}) =>
      server
        .request(path, {
          method,
          token: token ?? adminToken,
          headers: body === undefined ? {} : { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        .then(seen);
    const problem = (status: number, code: string) => ({ status, body: expect.objectContaining({ code }) });

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      db = server.database.db;
      await server.addUser("root", ["admin"]);
      await server.addUser("joe", ["users"]);
      await server.addUser("Ann", ["users"]);
      adminToken = (await server.tokenFor("root")).token;
      joeToken = (await server.tokenFor("joe")).token;
      await createGroup(db, setup, { name: "ops" });
    });
    afterAll(() => server.close());

    test("PUT a membership: 201 with it, then 200 with the same body; one member, one audit row", async () => {
      const first = await call("PUT", "/api/groups/ops/members/ann");
      expect(first).toEqual({ status: 201, body: { group: "ops", username: "Ann" } });
      for (const path of ["/api/groups/ops/members/ann", "/api/groups/OPS/members/ANN"])
        expect(await call("PUT", path)).toEqual({ status: 200, body: { group: "ops", username: "Ann" } });
      expect(await members(db, "ops")).toEqual(["Ann"]);
      expect(await auditRows(db, "group.add_member", "ops", "Ann")).toBe(1);
      // Into the admin group (a sudo-guarded change) alike.
      expect((await call("PUT", "/api/groups/admin/members/joe")).status).toBe(201);
      expect((await call("PUT", "/api/groups/admin/members/joe")).status).toBe(200);
      expect(await auditRows(db, "group.add_member", "admin", "joe")).toBe(1);
      expect((await call("DELETE", "/api/groups/admin/members/joe")).status).toBe(204);
    });

    test("two PUTs of one membership at the same moment: one 201, one 200, one row, one audit row", async () => {
      await createGroup(db, setup, { name: "race" });
      const answers = await Promise.all([call("PUT", "/api/groups/race/members/joe"), call("PUT", "/api/groups/race/members/joe")]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
      expect(answers.map((a) => a.body)).toEqual([{ group: "race", username: "joe" }, { group: "race", username: "joe" }]);
      expect(await members(db, "race")).toEqual(["joe"]);
      expect(await auditRows(db, "group.add_member", "race", "joe")).toBe(1);
    });

    test("DELETE a membership: 204, then 204 again with one audit row; an unknown user or group is still 404", async () => {
      await addMember(db, accountRules(server.config), setup, "ops", "joe");
      const answers = [await call("DELETE", "/api/groups/ops/members/joe"), await call("DELETE", "/api/groups/ops/members/joe")];
      expect(answers).toEqual([
        { status: 204, body: null },
        { status: 204, body: null },
      ]);
      expect(await members(db, "ops")).toEqual(["Ann"]);
      expect(await auditRows(db, "group.remove_member", "ops", "joe")).toBe(1);
      expect(await call("DELETE", "/api/groups/ops/members/nobody")).toEqual(problem(404, "user_not_found"));
      expect(await call("DELETE", "/api/groups/nope/members/joe")).toEqual(problem(404, "group_not_found"));
      expect(await call("PUT", "/api/groups/nope/members/joe")).toEqual(problem(404, "group_not_found"));
      // The rules still hold: the last admin cannot leave, however often asked.
      expect(await call("DELETE", "/api/groups/admin/members/root")).toEqual(problem(409, "last_admin"));
    });

    test("DELETE a token: 204, then 204 again with one token.revoke row; someone else's token is still 404", async () => {
      const { id } = await server.tokenFor("joe", { name: "replayed" });
      expect(await call("DELETE", `/api/tokens/${id}`, { token: joeToken })).toEqual({ status: 204, body: null });
      expect(await call("DELETE", `/api/tokens/${id}`, { token: joeToken })).toEqual({ status: 204, body: null });
      expect(await call("DELETE", `/api/tokens/${id}`)).toEqual({ status: 204, body: null });
      const rows = await db.selectFrom("audit_log").select("id").where("action", "=", "token.revoke").where(sql<string>`detail->>'token_id'`, "=", id).execute();
      expect(rows.length).toBe(1);
      const roots = await server.tokenFor("root", { name: "not joe's" });
      expect(await call("DELETE", `/api/tokens/${roots.id}`, { token: joeToken })).toEqual(problem(404, "token_not_found"));
      expect(await call("DELETE", "/api/tokens/00000000-0000-4000-8000-000000000000")).toEqual(problem(404, "token_not_found"));
    });

    test("DELETE a user: 204, then 204 again (any case) with one user.remove row; a name never used is 404", async () => {
      await server.addUser("Fay", ["users"]);
      for (const path of ["/api/users/fay", "/api/users/fay", "/api/users/FAY"]) expect({ path, answer: await call("DELETE", path) }).toEqual({ path, answer: { status: 204, body: null } });
      expect(await auditRows(db, "user.remove", "Fay")).toBe(1);
      expect(await call("DELETE", "/api/users/never-there")).toEqual(problem(404, "user_not_found"));
      expect(await call("DELETE", "/api/users/root")).toEqual(problem(409, "last_admin"));
    });

    test("DELETE a group: 204, then 204 again with one group.remove row; a name never used is 404", async () => {
      await createGroup(db, setup, { name: "temp" });
      expect(await call("DELETE", "/api/groups/temp")).toEqual({ status: 204, body: null });
      expect(await call("DELETE", "/api/groups/temp")).toEqual({ status: 204, body: null });
      expect(await auditRows(db, "group.remove", "temp")).toBe(1);
      expect(await call("DELETE", "/api/groups/never-there")).toEqual(problem(404, "group_not_found"));
      expect(await call("DELETE", "/api/groups/admin")).toEqual(problem(409, "admin_group"));
    });

    test("two DELETEs of one group at the same moment: both 204, one audit row", async () => {
      await createGroup(db, setup, { name: "gone" });
      const answers = await Promise.all([call("DELETE", "/api/groups/gone"), call("DELETE", "/api/groups/gone")]);
      expect(answers.map((a) => a.status)).toEqual([204, 204]);
      expect(await auditRows(db, "group.remove", "gone")).toBe(1);
    });

    test("PATCH disabled sent twice: the same 200 answer, one user.disable row; enabling likewise", async () => {
      await server.addUser("dee", ["users"]);
      const answers = [await call("PATCH", "/api/users/dee", { body: { disabled: true } }), await call("PATCH", "/api/users/dee", { body: { disabled: true } })];
      expect(answers[0]).toEqual({ status: 200, body: expect.objectContaining({ username: "dee", disabled: true }) });
      expect(answers[1]).toEqual(answers[0]!);
      expect(await auditRows(db, "user.disable", "dee")).toBe(1);
      for (let i = 0; i < 2; i++) expect((await call("PATCH", "/api/users/dee", { body: { disabled: false } })).status).toBe(200);
      expect(await auditRows(db, "user.enable", "dee")).toBe(1);
    });
  });

  describe(`${backend.name}: the CLI, for people, still refuses a repeated membership change`, () => {
    let database: FreshDatabase;
    const cli = (args: string[]) => runCli([...args, "--database-url", database.url], { env: { ENDPOINT_SECRET: TEST_SECRET } });
    beforeAll(async () => {
      database = await backend.create({ migrated: true });
      const handle = await openDatabase(database.url);
      try {
        await createUser(handle.db, setup, { username: "joe", password: PASSWORD });
        await createGroup(handle.db, setup, { name: "ops" });
      } finally {
        await handle.close();
      }
    });
    afterAll(() => database?.drop());

    test("add-group-member twice: the second exits 1 with 'already a member'; remove twice: 'not a member'; one audit row each", async () => {
      const add = ["add-group-member", "--groupname", "ops", "--membername", "joe"];
      const remove = ["remove-group-member", "--groupname", "ops", "--membername", "joe"];
      const outcome = async (args: string[]) => {
        const result = await cli(args);
        return { exitCode: result.exitCode, stderr: result.stderr.trim() };
      };
      expect(await outcome(add)).toEqual({ exitCode: 0, stderr: "" });
      expect(await outcome(add)).toEqual({ exitCode: 1, stderr: "error: user 'joe' is already a member of group 'ops'" });
      expect(await outcome(remove)).toEqual({ exitCode: 0, stderr: "" });
      expect(await outcome(remove)).toEqual({ exitCode: 1, stderr: "error: user 'joe' is not a member of group 'ops'" });
      const handle = await openDatabase(database.url);
      try {
        expect([await auditRows(handle.db, "group.add_member", "ops", "joe"), await auditRows(handle.db, "group.remove_member", "ops", "joe")]).toEqual([1, 1]);
      } finally {
        await handle.close();
      }
    });
  });
}

const postgresBackend = testBackends().find((b) => b.name === "postgres");

describe.skipIf(!postgresBackend)("two instances on one PostgreSQL: a change replayed on the other instance", () => {
  let database: FreshDatabase;
  const handles: DatabaseHandle[] = [];
  const instances: Endpoint[] = [];
  let origin: string;
  let adminToken: string;
  let db: Kysely<Database>;
  /** As nginx does: the same request, to instance 0 or 1. */
  const send = (instance: number, method: string, path: string) =>
    instances[instance]!.app.handle(new Request(origin + path, { method, headers: { authorization: `Bearer ${adminToken}` } })).then(seen);

  beforeAll(async () => {
    database = await postgresBackend!.create({ migrated: true });
    const loaded = await loadConfig("endpoint.yaml", { env: process.env });
    if (!loaded.ok) throw new Error("endpoint.yaml does not validate");
    const config = loaded.config;
    origin = new URL(config.server.publicUrl).origin;
    for (let i = 0; i < 2; i++) {
      const handle = await openDatabase(database.url);
      handles.push(handle);
      instances.push(
        await assembleEndpoint({
          config,
          database: handle,
          log: createLogger(memorySink(), "debug"),
          mode: "development",
          env: { ENDPOINT_SECRET: TEST_SECRET },
          peerAddress: () => "127.0.0.1",
        }),
      );
    }
    db = handles[0]!.db;
    const rules = accountRules(config);
    for (const username of ["root", "joe", "kit"]) await createUser(db, setup, { username, password: PASSWORD });
    await addMember(db, rules, setup, "admin", "root");
    await createGroup(db, setup, { name: "ops" });
    const issued = await issueToken(db, instances[0]!.codec, rules, setup, {
      username: "root",
      name: "admin script",
      expiresInSeconds: 3600,
      defaultExpirySeconds: 3600,
      maxExpirySeconds: 86400,
    });
    adminToken = issued.token;
  });
  afterAll(async () => {
    for (const instance of instances) await instance.shutdown();
    for (const handle of handles) await handle.close();
    await database?.drop();
  });

  test("PUT on one, again on the other: 201 then 200, one audit row; DELETE likewise: 204 twice", async () => {
    expect(await send(0, "PUT", "/api/groups/ops/members/joe")).toEqual({ status: 201, body: { group: "ops", username: "joe" } });
    expect(await send(1, "PUT", "/api/groups/ops/members/joe")).toEqual({ status: 200, body: { group: "ops", username: "joe" } });
    expect(await send(0, "DELETE", "/api/groups/ops/members/joe")).toEqual({ status: 204, body: null });
    expect(await send(1, "DELETE", "/api/groups/ops/members/joe")).toEqual({ status: 204, body: null });
    expect([await auditRows(db, "group.add_member", "ops", "joe"), await auditRows(db, "group.remove_member", "ops", "joe")]).toEqual([1, 1]);
  });

  test("the same PUT reaching both at once: one 201, one 200, never a 409 or 500", async () => {
    const answers = await Promise.all([send(0, "PUT", "/api/groups/ops/members/kit"), send(1, "PUT", "/api/groups/ops/members/kit")]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
    expect(await members(db, "ops")).toEqual(["kit"]);
    expect(await auditRows(db, "group.add_member", "ops", "kit")).toBe(1);
  });

  test("DELETE a user and a token on one, again on the other (and both at once): 204 each time, one audit row", async () => {
    await createUser(db, setup, { username: "lee", password: PASSWORD });
    expect(await send(0, "DELETE", "/api/users/lee")).toEqual({ status: 204, body: null });
    expect(await send(1, "DELETE", "/api/users/lee")).toEqual({ status: 204, body: null });
    expect(await auditRows(db, "user.remove", "lee")).toBe(1);

    await createUser(db, setup, { username: "max", password: PASSWORD });
    const both = await Promise.all([send(0, "DELETE", "/api/users/max"), send(1, "DELETE", "/api/users/max")]);
    expect(both.map((a) => a.status)).toEqual([204, 204]);
    expect(await auditRows(db, "user.remove", "max")).toBe(1);

    const { summary } = await issueToken(db, instances[0]!.codec, accountRules(), setup, {
      username: "joe",
      name: "replayed",
      expiresInSeconds: 600,
      defaultExpirySeconds: 600,
      maxExpirySeconds: 86400,
    });
    const revokes = await Promise.all([send(0, "DELETE", `/api/tokens/${summary.id}`), send(1, "DELETE", `/api/tokens/${summary.id}`)]);
    expect(revokes.map((a) => a.status)).toEqual([204, 204]);
    expect(await send(1, "DELETE", `/api/tokens/${summary.id}`)).toEqual({ status: 204, body: null });
    const rows = await db.selectFrom("audit_log").select("id").where("action", "=", "token.revoke").where(sql<string>`detail->>'token_id'`, "=", summary.id).execute();
    expect(rows.length).toBe(1);
  });
});
