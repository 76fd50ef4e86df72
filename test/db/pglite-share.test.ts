// Turn-taking on a shared embedded database: socket clients and the owning process's own queries never see each
// other's half-done work (PGlite has one session for all of them).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "kysely";
import postgres from "postgres";
import { type DatabaseHandle, openDatabase } from "../../db/open.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";

const pglite = testBackends().find((backend) => backend.name === "pglite")!;
let fresh: FreshDatabase;
let owner: DatabaseHandle;
let clients: ReturnType<typeof postgres>[] = [];

beforeAll(async () => {
  fresh = await pglite.create({ migrated: true });
  owner = await openDatabase(fresh.url, { share: true });
  await sql`create table share_test (n integer not null)`.execute(owner.db);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.end({ timeout: 1 })));
  await owner?.close();
  await fresh?.drop();
});

/** A second process's view: what the CLI gets when it opens the same URL while the owner shares it. */
const connect = async () => {
  const handle = await openDatabase(fresh.url);
  expect(handle.backend).toBe("postgres");
  return handle;
};

test("many clients' parameterised queries at once each get their own answer", async () => {
  const handles = await Promise.all([connect(), connect(), connect()]);
  try {
    const asked = Array.from({ length: 300 }, (_, i) => i);
    const answers = await Promise.all(
      asked.map(async (n) => {
        const db = handles[n % handles.length]!.db;
        const { rows } = await sql<{ n: number; text: string }>`select ${n}::int as n, ${`value ${n}`}::text as text`.execute(db);
        return rows[0];
      }),
    );
    expect(answers).toEqual(asked.map((n) => ({ n, text: `value ${n}` })));
  } finally {
    await Promise.all(handles.map((handle) => handle.close()));
  }
});

test("a client's open transaction is invisible to the owner's queries, which wait for it and then see it committed", async () => {
  const client = await connect();
  try {
    let inserted!: () => void;
    const insertedOne = new Promise<void>((resolve) => (inserted = resolve));
    let finish!: () => void;
    const mayCommit = new Promise<void>((resolve) => (finish = resolve));
    const transaction = client.db.transaction().execute(async (tx) => {
      await sql`insert into share_test (n) values (1)`.execute(tx);
      inserted();
      await mayCommit;
      await sql`insert into share_test (n) values (2)`.execute(tx);
    });
    await insertedOne;
    // The owner asks while the client is mid-transaction: it must not see one of the two rows.
    const seen = sql<{ count: string }>`select count(*)::text as count from share_test`.execute(owner.db).then((r) => r.rows[0]!.count);
    await Bun.sleep(100);
    finish();
    await transaction;
    expect(await seen).toBe("2");
  } finally {
    await client.close();
  }
});

test("the owner's transaction is invisible to clients in the same way", async () => {
  const client = await connect();
  try {
    const seen: string[] = [];
    await owner.db.transaction().execute(async (tx) => {
      await sql`insert into share_test (n) values (3)`.execute(tx);
      const during = sql<{ count: string }>`select count(*)::text as count from share_test`.execute(client.db).then((r) => seen.push(r.rows[0]!.count));
      await Bun.sleep(100);
      await sql`insert into share_test (n) values (4)`.execute(tx);
      void during;
    });
    const after = await sql<{ count: string }>`select count(*)::text as count from share_test`.execute(client.db);
    expect(seen.concat(after.rows[0]!.count)).toEqual(["4", "4"]);
  } finally {
    await client.close();
  }
});

test("a client that disconnects mid-transaction is rolled back and the database is free again", async () => {
  const address = JSON.parse(await Bun.file(`${fresh.url.slice("pglite:".length)}.lock`).text()).address;
  const raw = postgres({ path: address.socketPath, user: "postgres", database: "postgres", max: 1, onnotice: () => {} });
  clients.push(raw);
  const reserved = await raw.reserve();
  await reserved`begin`;
  await reserved`insert into share_test (n) values (99)`;
  await raw.end({ timeout: 0 });
  clients = [];
  const { rows } = await sql<{ count: string }>`select count(*)::text as count from share_test where n = 99`.execute(owner.db);
  expect(rows[0]!.count).toBe("0");
});

test("notifications sent by a client reach the owner's listeners", async () => {
  const received: string[] = [];
  const unlisten = await owner.listen("share_test_channel", (payload) => received.push(payload));
  const client = await connect();
  try {
    await sql`select pg_notify('share_test_channel', 'from the cli')`.execute(client.db);
    const deadline = Date.now() + 2000;
    while (received.length === 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(received).toEqual(["from the cli"]);
  } finally {
    await client.close();
    await unlisten();
  }
});

test("a second server cannot follow a shared database's notifications: it is told to use one server", async () => {
  const client = await connect();
  try {
    await expect(client.listen("anything", () => {})).rejects.toThrow(/already served by another process.*one server per embedded database/);
  } finally {
    await client.close();
  }
});
