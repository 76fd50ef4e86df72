// jsonb values (the audit log's detail, the example app's event payloads) are stored as JSON objects on both
// backends, whichever door wrote them, and show as JSON text on the pages. PostgreSQL used to get them as JSON
// *strings* (postgres.js encoded the JSON text a second time); migration 20261125000100 repairs such rows.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Kysely, sql } from "kysely";
import { createMigrator, migrateToLatest } from "../../db/migrate.ts";
import { openDatabase } from "../../db/open.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const REPAIR = "20261125000100_token_parents_and_jsonb_repair";
const BEFORE_REPAIR = "20261124000400_example_events";

/** Migrate up or down to `name`, returning the steps taken (later migrations may exist: they move too). */
async function migrateToName(db: Parameters<typeof createMigrator>[0], name: string) {
  const { error, results = [] } = await createMigrator(db).migrateTo(name);
  if (error) throw error;
  return results.map(({ migrationName, direction, status }) => ({ name: migrationName, direction, status }));
}

type Stored = { id: string; action?: string; type: string; value: unknown };
const auditRows = (db: Kysely<any>) =>
  sql<Stored>`select id, action, jsonb_typeof(detail) as type, detail as value from audit_log order by id`.execute(db).then((r) => r.rows);
const eventRows = (db: Kysely<any>) => sql<Stored>`select id, jsonb_typeof(payload) as type, payload as value from events order by id`.execute(db).then((r) => r.rows);

for (const backend of testBackends()) {
  describe(`${backend.name}: jsonb values are stored as objects`, () => {
    let server: TestEndpoint;
    let admin: { cookie: string; csrfToken: string };
    let adminToken: string;
    let serviceToken: string;
    const page = async (path: string, session: { cookie: string }) =>
      (await server.request(path, { cookie: session.cookie, headers: { accept: "text/html" } })).text();

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      await server.addUser("joe");
      await server.addUser("ann");
      await server.addUser("ci", ["services"]);
      admin = await server.signIn("root");
      adminToken = (await server.tokenFor("root")).token;
      serviceToken = (await server.tokenFor("ci")).token;
    });
    afterAll(() => server.close());

    test("a CLI change is audited with its detail as an object", async () => {
      const database: FreshDatabase = await backend.create({ migrated: true });
      try {
        const cli = (...args: string[]) => runCli([...args, "--database-url", database.url]);
        for (const args of [
          ["add-user", "--username", "joe", "--password", "joe's long password"],
          ["add-group", "--groupname", "crew"],
          ["add-group-member", "--groupname", "crew", "--membername", "joe"],
        ])
          expect(await cli(...args)).toMatchObject({ exitCode: 0 });
        // The CLI has finished and closed the database: only now may this process open it (PGlite is single-process).
        const handle = await openDatabase(database.url);
        try {
          const rows = await auditRows(handle.db);
          expect(rows.map((r) => r.action)).toEqual(["user.create", "group.create", "group.add_member"]);
          expect(rows.map((r) => r.type)).toEqual(["object", "object", "object"]);
          expect(rows.at(-1)!.value).toEqual({ member: "joe" });
        } finally {
          await handle.close();
        }
      } finally {
        await database.drop();
      }
    });

    test("an API change, an admin form and the example webhook store objects, read back as written", async () => {
      const viaApi = await server.request("/api/groups/users/members/joe", { method: "PUT", token: adminToken });
      expect(viaApi.status).toBe(201);
      const viaPage = await server.request("/admin/groups/users/members", {
        method: "POST",
        cookie: admin.cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams({ _csrf: admin.csrfToken, username: "ann" }).toString(),
      });
      expect(viaPage.status).toBe(200);
      const event = await server.request("/hooks/events", {
        method: "POST",
        token: serviceToken,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ kind: "deploy", payload: { service: "api" } }),
      });
      expect(event.status).toBe(201);

      const audit = await auditRows(server.database.db);
      expect(audit.filter((r) => r.type !== "object")).toEqual([]);
      const added = audit.filter((r) => r.action === "group.add_member").map((r) => r.value);
      expect(added).toEqual(expect.arrayContaining([{ member: "joe" }, { member: "ann" }]));
      const events = await eventRows(server.database.db);
      expect(events.map((r) => [r.type, r.value])).toEqual([["object", { service: "api" }]]);

      // The same through the query builder, as the app reads them.
      const detail = await server.database.db.selectFrom("audit_log").select("detail").where("action", "=", "group.add_member").where("actor", "=", "root").orderBy("id").execute();
      expect(detail.map((r) => (r.detail as { member: string }).member)).toEqual(["joe", "ann"]);
    });

    test("the audit page and the events page show the values as JSON text, escaped once", async () => {
      const audit = await page("/admin/audit", admin);
      expect(audit).toContain("{&quot;member&quot;:&quot;joe&quot;}");
      expect(audit).toContain("{&quot;member&quot;:&quot;ann&quot;}");
      expect(audit).not.toContain("\\&quot;");
      expect(audit).not.toContain('\\"');
      const joe = await server.signIn("joe"); // joe is in users since the API call above
      const events = await page("/events", joe);
      expect(events).toContain("{&quot;service&quot;:&quot;api&quot;}");
      expect(events).not.toContain("\\&quot;");
      expect(events).not.toContain('\\"');
    });
  });

  describe(`${backend.name}: the jsonb repair migration`, () => {
    let database: FreshDatabase;
    let handle: Awaited<ReturnType<typeof openDatabase>>;
    const asString = (text: string) => sql`to_jsonb(${text}::text)`;
    const insertAudit = (action: string, text: string) =>
      sql`insert into audit_log (actor, source, action, target, detail) values ('x', 'cli', ${action}, 't', ${asString(text)})`.execute(handle.db);
    const insertEvent = (kind: string, text: string) => sql`insert into events (source, kind, payload) values ('x', ${kind}, ${asString(text)})`.execute(handle.db);
    const byKey = (rows: Stored[], key: (r: Stored) => string) => Object.fromEntries(rows.map((r) => [key(r), { type: r.type, value: r.value }]));

    beforeAll(async () => {
      database = await backend.create();
      handle = await openDatabase(database.url);
    });
    afterAll(async () => {
      await handle.close();
      await database.drop();
    });

    test("rows stored as strings holding JSON become the objects they meant; other strings stay strings", async () => {
      await migrateToLatest(handle.db);
      // Back to just before the repair (later migrations come down with it), then up to the repair alone.
      const down = await migrateToName(handle.db, BEFORE_REPAIR);
      expect(down.at(-1)).toEqual({ name: REPAIR, direction: "Down", status: "Success" });
      await insertAudit("double-encoded", '{"member":"ann"}');
      await insertAudit("double-encoded-list", '["a",{"b":1}]');
      await insertAudit("plain", "just a note");
      await insertEvent("double-encoded", '{"service":"api","nested":{"ok":true}}');
      await insertEvent("plain", "not json");
      // Starts like JSON but is not: it must stay as it is, and must not stop the migration.
      await insertEvent("bracketed", "[warn] disk full");
      await insertAudit("broken", "{oops, not json");
      const before = byKey(await auditRows(handle.db), (r) => r.action!);
      expect(before["double-encoded"]).toEqual({ type: "string", value: '{"member":"ann"}' });

      expect(await migrateToName(handle.db, REPAIR)).toEqual([{ name: REPAIR, direction: "Up", status: "Success" }]);
      const audit = byKey(await auditRows(handle.db), (r) => r.action!);
      expect(audit).toEqual({
        "double-encoded": { type: "object", value: { member: "ann" } },
        "double-encoded-list": { type: "array", value: ["a", { b: 1 }] },
        plain: { type: "string", value: "just a note" },
        broken: { type: "string", value: "{oops, not json" },
      });
      const events = (await sql<Stored & { kind: string }>`select kind, jsonb_typeof(payload) as type, payload as value from events`.execute(handle.db)).rows;
      expect(byKey(events, (r) => (r as Stored & { kind: string }).kind)).toEqual({
        "double-encoded": { type: "object", value: { service: "api", nested: { ok: true } } },
        plain: { type: "string", value: "not json" },
        bracketed: { type: "string", value: "[warn] disk full" },
      });
    });

    test("undoing the migration keeps the repaired values: nothing is lost", async () => {
      expect(await migrateToName(handle.db, BEFORE_REPAIR)).toEqual([{ name: REPAIR, direction: "Down", status: "Success" }]);
      const audit = byKey(await auditRows(handle.db), (r) => r.action!);
      expect(audit["double-encoded"]).toEqual({ type: "object", value: { member: "ann" } });
      expect(audit.plain).toEqual({ type: "string", value: "just a note" });
      const events = await eventRows(handle.db);
      expect(events.map((r) => r.type).sort()).toEqual(["object", "string", "string"]);
      await migrateToLatest(handle.db);
    });
  });
}
