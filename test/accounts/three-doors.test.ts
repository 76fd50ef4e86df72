// One table of account changes, each made through the three doors an administrator has: the CLI, the REST API
// and the admin pages. Whichever door a change comes through, the rules answer the same way: an allowed change
// does the same thing and leaves the same audit row (marked with its door); a refused one gives the same reason
// and leaves no trace. One exception, by design: a REST PUT or DELETE that finds its work already done answers as
// the first request did (a proxy may have sent it again), still changing nothing and auditing nothing, while the
// CLI and the pages tell the person. Then the one race the rules must win: two admins removing each other leave one admin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Kysely } from "kysely";
import { openDatabase } from "../../db/open.ts";
import type { Database } from "../../db/schema.ts";
import { addMember, createGroup } from "../../src/accounts/groups.ts";
import { type AccountRules, accountRules } from "../../src/accounts/rules.ts";
import { revokeToken } from "../../src/accounts/tokens.ts";
import { createUser, setDisabled } from "../../src/accounts/users.ts";
import { issueToken } from "../../src/auth/issue-token.ts";
import { TokenCodec } from "../../src/auth/token-codec.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";
import { PASSWORD, TEST_SECRET, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

type Door = "cli" | "api" | "web";
const DOORS: Door[] = ["cli", "api", "web"];
const setup = { name: "test-setup", source: "cli" as const, recentlyAuthenticated: true };
/** The administrator every door acts as (the API and the pages); on the CLI, the administrator of the database. */
const ROOT = "root";

/** Where a scenario is arranged: one door's database, and its names (suffixed with the door). */
interface World {
  db: Kysely<Database>;
  rules: AccountRules;
  codec: TokenCodec;
  /** `amy` → `amy-cli`: every door has names of its own. */
  n: (base: string) => string;
}

interface Scenario {
  /** The test's title. */
  what: string;
  /** Make the state the change needs; returns values the doors need (a token's id). */
  arrange: (w: World) => Promise<Record<string, string>>;
  cli: (n: World["n"], a: Record<string, string>) => string[];
  api: (n: World["n"], a: Record<string, string>) => { method: string; path: string; body?: unknown };
  web: (n: World["n"], a: Record<string, string>) => { path: string; fields?: Record<string, string> };
  /** Names below use `*` for the door suffix and `<id>` for an id. */
  allowed?: { audit: { action: string; target: string; detail: Record<string, unknown> }; changes: { added: string[]; removed: string[] } };
  refused?: { status: number; code: string; message: string };
  /** For a refusal whose work is already done: the success status the REST API answers instead (a replayed PUT or DELETE). */
  apiRepeat?: number;
}

async function user(w: World, base: string, { groups = [] as string[], disabled = false } = {}): Promise<string> {
  const username = w.n(base);
  await createUser(w.db, setup, { username, password: PASSWORD });
  for (const group of groups) await addMember(w.db, w.rules, setup, group, username);
  if (disabled) await setDisabled(w.db, w.rules, setup, username, true);
  return username;
}

async function token(w: World, owner: string, name: string): Promise<string> {
  const { summary } = await issueToken(w.db, w.codec, w.rules, setup, {
    username: owner,
    name,
    expiresInSeconds: 3600,
    defaultExpirySeconds: 3600,
    maxExpirySeconds: 86400,
  });
  return summary.id;
}

const LAST_ADMIN = (change: string) =>
  `cannot ${change}: 'root' is the last active member of group 'admin'; make someone else an administrator first`;

const scenarios: Scenario[] = [
  {
    what: "adding a user to a group they are not in",
    arrange: async (w) => {
      await user(w, "amy");
      await createGroup(w.db, setup, { name: w.n("team") });
      return {};
    },
    cli: (n) => ["add-group-member", "--groupname", n("team"), "--membername", n("amy")],
    api: (n) => ({ method: "PUT", path: `/api/groups/${n("team")}/members/${n("amy")}` }),
    web: (n) => ({ path: `/admin/groups/${n("team")}/members`, fields: { username: n("amy") } }),
    allowed: {
      audit: { action: "group.add_member", target: "team-*", detail: { member: "amy-*" } },
      changes: { added: ["member team-* amy-*"], removed: [] },
    },
  },
  {
    what: "adding a user to a group they are already in",
    arrange: async (w) => {
      await createGroup(w.db, setup, { name: w.n("crew") });
      await user(w, "ben", { groups: [w.n("crew")] });
      return {};
    },
    cli: (n) => ["add-group-member", "--groupname", n("crew"), "--membername", n("ben")],
    api: (n) => ({ method: "PUT", path: `/api/groups/${n("crew")}/members/${n("ben")}` }),
    web: (n) => ({ path: `/admin/groups/${n("crew")}/members`, fields: { username: n("ben") } }),
    refused: { status: 409, code: "already_member", message: "user 'ben-*' is already a member of group 'crew-*'" },
    apiRepeat: 200,
  },
  {
    what: "taking an administrator out of the admin group while another active one remains",
    arrange: async (w) => {
      await user(w, "cat", { groups: ["admin"] });
      return {};
    },
    cli: (n) => ["remove-group-member", "--groupname", "admin", "--membername", n("cat")],
    api: (n) => ({ method: "DELETE", path: `/api/groups/admin/members/${n("cat")}` }),
    web: (n) => ({ path: "/admin/groups/admin/members/remove", fields: { username: n("cat") } }),
    allowed: {
      audit: { action: "group.remove_member", target: "admin", detail: { member: "cat-*" } },
      changes: { added: [], removed: ["member admin cat-*"] },
    },
  },
  {
    what: "taking the last active administrator out of the admin group, a disabled administrator notwithstanding",
    arrange: async (w) => {
      await user(w, "dan", { groups: ["admin"], disabled: true });
      return {};
    },
    cli: () => ["remove-group-member", "--groupname", "admin", "--membername", ROOT],
    api: () => ({ method: "DELETE", path: `/api/groups/admin/members/${ROOT}` }),
    web: () => ({ path: "/admin/groups/admin/members/remove", fields: { username: ROOT } }),
    refused: { status: 409, code: "last_admin", message: LAST_ADMIN("remove this member") },
  },
  {
    what: "disabling a user",
    arrange: async (w) => {
      await user(w, "eve", { groups: ["users"] });
      return {};
    },
    cli: (n) => ["disable-user", "--username", n("eve")],
    api: (n) => ({ method: "PATCH", path: `/api/users/${n("eve")}`, body: { disabled: true } }),
    web: (n) => ({ path: `/admin/users/${n("eve")}/disable` }),
    allowed: {
      audit: { action: "user.disable", target: "eve-*", detail: {} },
      changes: { added: ["user eve-* disabled"], removed: ["user eve-* active"] },
    },
  },
  {
    what: "disabling the last active administrator",
    arrange: async () => ({}),
    cli: () => ["disable-user", "--username", ROOT],
    api: () => ({ method: "PATCH", path: `/api/users/${ROOT}`, body: { disabled: true } }),
    web: () => ({ path: `/admin/users/${ROOT}/disable` }),
    refused: { status: 409, code: "last_admin", message: LAST_ADMIN("disable this user") },
  },
  {
    what: "deleting a user",
    arrange: async (w) => {
      await user(w, "fay", { groups: ["users"] });
      return {};
    },
    cli: (n) => ["remove-user", "--username", n("fay")],
    api: (n) => ({ method: "DELETE", path: `/api/users/${n("fay")}` }),
    web: (n) => ({ path: `/admin/users/${n("fay")}/delete` }),
    allowed: {
      audit: { action: "user.remove", target: "fay-*", detail: {} },
      changes: { added: [], removed: ["member users fay-*", "user fay-* active"] },
    },
  },
  {
    what: "deleting the last active administrator",
    arrange: async () => ({}),
    cli: () => ["remove-user", "--username", ROOT],
    api: () => ({ method: "DELETE", path: `/api/users/${ROOT}` }),
    web: () => ({ path: `/admin/users/${ROOT}/delete` }),
    refused: { status: 409, code: "last_admin", message: LAST_ADMIN("delete this user") },
  },
  {
    what: "deleting a group made at run time",
    arrange: async (w) => {
      await createGroup(w.db, setup, { name: w.n("temp") });
      await user(w, "gil", { groups: [w.n("temp")] });
      return {};
    },
    cli: (n) => ["remove-group", "--groupname", n("temp")],
    api: (n) => ({ method: "DELETE", path: `/api/groups/${n("temp")}` }),
    web: (n) => ({ path: `/admin/groups/${n("temp")}/delete` }),
    allowed: {
      audit: { action: "group.remove", target: "temp-*", detail: {} },
      changes: { added: [], removed: ["group temp-*", "member temp-* gil-*"] },
    },
  },
  {
    what: "deleting a group endpoint.yaml declares",
    arrange: async () => ({}),
    cli: () => ["remove-group", "--groupname", "services"],
    api: () => ({ method: "DELETE", path: "/api/groups/services" }),
    web: () => ({ path: "/admin/groups/services/delete" }),
    refused: {
      status: 409,
      code: "declared_group",
      message: "group 'services' is declared in endpoint.yaml; remove it (and the routes that name it) from there first",
    },
  },
  {
    what: "deleting the admin group",
    arrange: async () => ({}),
    cli: () => ["remove-group", "--groupname", "admin"],
    api: () => ({ method: "DELETE", path: "/api/groups/admin" }),
    web: () => ({ path: "/admin/groups/admin/delete" }),
    refused: { status: 409, code: "admin_group", message: "group 'admin' administers Endpoint and cannot be deleted" },
  },
  {
    what: "creating a token for a user",
    arrange: async (w) => {
      await user(w, "gus", { groups: ["services"] });
      return {};
    },
    cli: (n) => ["token", "create", "--username", n("gus"), "--name", "laptop", "--expires", "10m"],
    api: (n) => ({ method: "POST", path: "/api/tokens", body: { name: "laptop", username: n("gus"), expires_in_seconds: 600 } }),
    web: (n) => ({ path: `/admin/users/${n("gus")}/tokens`, fields: { name: "laptop" } }),
    allowed: {
      audit: { action: "token.create", target: "gus-*", detail: { name: "laptop", routes: null } },
      changes: { added: ["token <id> gus-* laptop active"], removed: [] },
    },
  },
  {
    what: "creating a token for a disabled user",
    arrange: async (w) => {
      await user(w, "hal", { groups: ["services"], disabled: true });
      return {};
    },
    cli: (n) => ["token", "create", "--username", n("hal"), "--name", "laptop", "--expires", "10m"],
    api: (n) => ({ method: "POST", path: "/api/tokens", body: { name: "laptop", username: n("hal"), expires_in_seconds: 600 } }),
    web: (n) => ({ path: `/admin/users/${n("hal")}/tokens`, fields: { name: "laptop" } }),
    refused: { status: 409, code: "user_disabled", message: "user 'hal-*' is disabled" },
  },
  {
    what: "revoking a token",
    arrange: async (w) => ({ id: await token(w, await user(w, "ivy"), "deploy") }),
    cli: (_, a) => ["token", "revoke", "--id", a.id!],
    api: (_, a) => ({ method: "DELETE", path: `/api/tokens/${a.id}` }),
    web: (_, a) => ({ path: "/admin/tokens/revoke", fields: { id: a.id! } }),
    allowed: {
      audit: { action: "token.revoke", target: "ivy-*", detail: { descendants_revoked: 0 } },
      changes: { added: ["token <id> ivy-* deploy revoked"], removed: ["token <id> ivy-* deploy active"] },
    },
  },
  {
    what: "revoking a token that is already revoked",
    arrange: async (w) => {
      const id = await token(w, await user(w, "jon"), "deploy");
      await revokeToken(w.db, w.rules, setup, id);
      return { id };
    },
    cli: (_, a) => ["token", "revoke", "--id", a.id!],
    api: (_, a) => ({ method: "DELETE", path: `/api/tokens/${a.id}` }),
    web: (_, a) => ({ path: "/admin/tokens/revoke", fields: { id: a.id! } }),
    refused: { status: 409, code: "token_revoked", message: "token '<id>' is already revoked" },
    apiRepeat: 204,
  },
];

/** Everything a change may touch, one line each, sorted. */
async function snapshot(db: Kysely<Database>): Promise<string[]> {
  const [users, members, groups, tokens] = await Promise.all([
    db.selectFrom("users").select(["username", "disabled"]).execute(),
    db
      .selectFrom("group_members")
      .innerJoin("groups", "groups.id", "group_members.group_id")
      .innerJoin("users", "users.id", "group_members.user_id")
      .select(["groups.name", "users.username"])
      .execute(),
    db.selectFrom("groups").select("name").execute(),
    db
      .selectFrom("api_tokens")
      .innerJoin("users", "users.id", "api_tokens.user_id")
      .select(["api_tokens.id", "users.username", "api_tokens.name", "api_tokens.revoked_at"])
      .execute(),
  ]);
  return [
    ...users.map((u) => `user ${u.username} ${u.disabled ? "disabled" : "active"}`),
    ...members.map((m) => `member ${m.name} ${m.username}`),
    ...groups.map((g) => `group ${g.name}`),
    ...tokens.map((t) => `token ${t.id} ${t.username} ${t.name} ${t.revoked_at === null ? "active" : "revoked"}`),
  ].sort();
}

async function auditState(db: Kysely<Database>) {
  const count = await db.selectFrom("audit_log").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
  const newest = await db.selectFrom("audit_log").selectAll().orderBy("id", "desc").limit(1).executeTakeFirst();
  return { count: Number(count.n), newest };
}

/** What a person at the door learns: did it work, and if not, why (the code only where the door shows one). */
interface Outcome {
  ok: boolean;
  status?: number;
  code?: string;
  message?: string;
}

interface Observation {
  outcome: Outcome;
  before: string[];
  after: string[];
  auditBefore: number;
  auditAfter: number;
  newest?: { actor: string; source: string; action: string; target: string; client_address: string | null; detail: Record<string, unknown> };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** One door's text in door-neutral form: `amy-cli` → `amy-*`, ids → `<id>`. */
const neutral = (door: Door, text: string) => text.replaceAll(`-${door}`, "-*").replace(UUID, "<id>");
const neutralJson = <T>(door: Door, value: T): T => JSON.parse(neutral(door, JSON.stringify(value)));

const unescapeHtml = (text: string) =>
  text
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

const names = (door: Door) => (base: string) => `${base}-${door}`;

for (const backend of testBackends()) {
  describe(`${backend.name}: the same change through the CLI, the REST API and the admin pages`, () => {
    let server: TestEndpoint;
    let cliDatabase: FreshDatabase;
    let rules: AccountRules;
    let adminToken: string;
    let session: { cookie: string; csrfToken: string };
    const cliCodec = new TokenCodec({ signing: TEST_SECRET, verifying: [TEST_SECRET], source: "environment" });

    /** The CLI's database, opened only between CLI runs (embedded PGlite admits one process at a time). */
    const withCliDatabase = async <T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> => {
      const handle = await openDatabase(cliDatabase.url);
      try {
        return await work(handle.db);
      } finally {
        await handle.close();
      }
    };
    const cli = (args: string[]) => runCli([...args, "--database-url", cliDatabase.url], { env: { ENDPOINT_SECRET: TEST_SECRET } });

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      rules = accountRules(server.config);
      await server.addUser(ROOT, ["admin"]);
      adminToken = (await server.tokenFor(ROOT, { expiresInSeconds: 86400, name: "admin script" })).token;
      session = await server.signIn(ROOT);

      cliDatabase = await backend.create({ migrated: true });
      const init = await cli(["init-db"]);
      expect({ exitCode: init.exitCode, stderr: init.stderr }).toEqual({ exitCode: 0, stderr: "" });
      await withCliDatabase((db) => user({ db, rules, codec: cliCodec, n: (base) => base }, ROOT, { groups: ["admin"] }));
    });
    afterAll(async () => {
      await server?.close();
      await cliDatabase?.drop();
    });

    async function observe(db: Kysely<Database>) {
      const [state, audit] = await Promise.all([snapshot(db), auditState(db)]);
      return { state, audit };
    }

    async function throughCli(scenario: Scenario): Promise<Observation> {
      const n = names("cli");
      const { arranged, before } = await withCliDatabase(async (db) => {
        const arranged = await scenario.arrange({ db, rules, codec: cliCodec, n });
        return { arranged, before: await observe(db) };
      });
      const result = await cli(scenario.cli(n, arranged));
      const after = await withCliDatabase(observe);
      let outcome: Outcome;
      if (result.exitCode === 0) {
        expect(result.stderr).not.toContain("error:");
        outcome = { ok: true };
      } else {
        // A refusal is one line a person can act on, and exit 1.
        const lines = result.stderr.trimEnd().split("\n");
        expect({ exitCode: result.exitCode, lines: lines.length, prefix: lines[0]!.startsWith("error: ") }).toEqual({ exitCode: 1, lines: 1, prefix: true });
        outcome = { ok: false, message: lines[0]!.slice("error: ".length) };
      }
      return { outcome, before: before.state, after: after.state, auditBefore: before.audit.count, auditAfter: after.audit.count, newest: after.audit.newest };
    }

    async function throughServer(door: "api" | "web", scenario: Scenario): Promise<Observation> {
      const n = names(door);
      const { db } = server.database;
      const arranged = await scenario.arrange({ db, rules, codec: server.endpoint.codec, n });
      const before = await observe(db);
      let outcome: Outcome;
      if (door === "api") {
        const { method, path, body } = scenario.api(n, arranged);
        const response = await server.request(path, {
          method,
          token: adminToken,
          headers: body === undefined ? {} : { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (response.status < 300) outcome = { ok: true, status: response.status };
        else {
          expect(response.headers.get("content-type")).toContain("application/problem+json");
          const problem = await response.json();
          expect(problem.status).toBe(response.status);
          outcome = { ok: false, status: response.status, code: problem.code, message: problem.detail };
        }
      } else {
        const { path, fields = {} } = scenario.web(n, arranged);
        const response = await server.request(path, {
          method: "POST",
          cookie: session.cookie,
          headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
          body: new URLSearchParams({ _csrf: session.csrfToken, ...fields }).toString(),
        });
        const page = await response.text();
        const alerts = [...page.matchAll(/<p class="alert" role="alert">([^<]*)<\/p>/g)].map((m) => unescapeHtml(m[1]!.trim()));
        if (response.status < 400) {
          expect(alerts).toEqual([]);
          outcome = { ok: true, status: response.status };
        } else {
          // The page is shown again, with the reason in its one alert.
          expect({ status: response.status, alerts: alerts.length, type: response.headers.get("content-type") }).toEqual({
            status: response.status,
            alerts: 1,
            type: expect.stringContaining("text/html"),
          });
          outcome = { ok: false, status: response.status, message: alerts[0] };
        }
      }
      const after = await observe(db);
      return { outcome, before: before.state, after: after.state, auditBefore: before.audit.count, auditAfter: after.audit.count, newest: after.audit.newest };
    }

    for (const scenario of scenarios) {
      const verdict = scenario.allowed
        ? "allowed, with the same effect and the same audit row"
        : `refused with ${scenario.refused!.code}${scenario.apiRepeat ? ` (the REST API: ${scenario.apiRepeat}, a repeat)` : ""}, changing nothing`;
      test(`${scenario.what}: ${verdict}, at every door`, async () => {
        const seen = {} as Record<Door, Observation>;
        seen.cli = await throughCli(scenario);
        seen.api = await throughServer("api", scenario);
        seen.web = await throughServer("web", scenario);

        // The same answer at every door (the CLI shows no code, only the message).
        const outcomes = Object.fromEntries(
          DOORS.map((door) => [door, { ok: seen[door].outcome.ok, message: seen[door].outcome.message && neutral(door, seen[door].outcome.message!) }]),
        );
        const expected = scenario.allowed ? { ok: true, message: undefined } : { ok: false, message: scenario.refused!.message };
        const api = scenario.apiRepeat ? { ok: true, message: undefined } : expected;
        expect(outcomes).toEqual({ cli: expected, api, web: expected });

        if (scenario.refused) {
          expect({ api: [seen.api.outcome.status, seen.api.outcome.code], web: seen.web.outcome.status }).toEqual({
            api: scenario.apiRepeat ? [scenario.apiRepeat, undefined] : [scenario.refused.status, scenario.refused.code],
            web: scenario.refused.status,
          });
          for (const door of DOORS) {
            // No side effect and no audit row.
            expect({ door, state: seen[door].after, audit: seen[door].auditAfter }).toEqual({ door, state: seen[door].before, audit: seen[door].auditBefore });
          }
          return;
        }

        const { audit, changes } = scenario.allowed!;
        for (const door of DOORS) {
          const { before, after, newest } = seen[door];
          const change = {
            added: after.filter((line) => !before.includes(line)).map((line) => neutral(door, line)),
            removed: before.filter((line) => !after.includes(line)).map((line) => neutral(door, line)),
          };
          expect({ door, change }).toEqual({ door, change: changes });
          expect({ door, rows: seen[door].auditAfter - seen[door].auditBefore }).toEqual({ door, rows: 1 });
          const { token_id, parent_id, ...detail } = newest!.detail;
          if (audit.action.startsWith("token.")) expect(token_id).toMatch(UUID);
          expect({
            door,
            actor: newest!.actor,
            source: newest!.source,
            client_address: newest!.client_address,
            action: newest!.action,
            target: neutral(door, newest!.target),
            detail: neutralJson(door, detail),
          }).toEqual({
            door,
            actor: door === "cli" ? expect.stringMatching(/^cli:/) : ROOT,
            source: door,
            client_address: door === "cli" ? null : "127.0.0.1",
            ...audit,
          });
        }
      });
    }
  });

  describe(`${backend.name}: two administrators removing each other at the same moment`, () => {
    let server: TestEndpoint;
    const tokens: Record<string, string> = {};

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      for (const name of ["ada", "bob"]) {
        await server.addUser(name, ["admin"]);
        tokens[name] = (await server.tokenFor(name, { expiresInSeconds: 86400 })).token;
      }
    });
    afterAll(() => server?.close());

    const admins = async () =>
      (
        await server.database.db
          .selectFrom("group_members")
          .innerJoin("groups", "groups.id", "group_members.group_id")
          .innerJoin("users", "users.id", "group_members.user_id")
          .where("groups.name", "=", "admin")
          .where("users.disabled", "=", false)
          .select("users.username")
          .orderBy("users.username")
          .execute()
      ).map((r) => r.username);

    /** Wait until the server itself sees both as administrators (its cache follows the database). */
    const bothAdminsAtTheDoor = async () => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const seen = await Promise.all(
          ["ada", "bob"].map(async (name) => (await (await server.request("/api/me", { token: tokens[name] })).json()).groups as string[]),
        );
        if (seen.every((groups) => groups.includes("admin"))) return;
        await Bun.sleep(20);
      }
      throw new Error("the server never saw both administrators");
    };

    test("exactly one of them succeeds, the other is told they would be the last admin; one admin is left, five rounds running", async () => {
      const rules = accountRules(server.config);
      for (let round = 1; round <= 5; round++) {
        for (const name of ["ada", "bob"]) {
          if (!(await admins()).includes(name)) await addMember(server.database.db, rules, setup, "admin", name);
        }
        expect(await admins()).toEqual(["ada", "bob"]);
        await bothAdminsAtTheDoor();
        const auditBefore = (await auditState(server.database.db)).count;

        const [adaRemovesBob, bobRemovesAda] = await Promise.all([
          server.request("/api/groups/admin/members/bob", { method: "DELETE", token: tokens.ada }),
          server.request("/api/groups/admin/members/ada", { method: "DELETE", token: tokens.bob }),
        ]);
        const answer = async (response: Response) => (response.status === 204 ? "204" : `${response.status} ${(await response.json()).code}`);
        const answers = [await answer(adaRemovesBob), await answer(bobRemovesAda)];
        expect({ round, answers: [...answers].sort() }).toEqual({ round, answers: ["204", "409 last_admin"] });

        const winner = answers[0] === "204" ? "ada" : "bob";
        expect({ round, admins: await admins() }).toEqual({ round, admins: [winner] });
        const audit = await auditState(server.database.db);
        expect({ round, rows: audit.count - auditBefore, action: audit.newest?.action, actor: audit.newest?.actor }).toEqual({
          round,
          rows: 1,
          action: "group.remove_member",
          actor: winner,
        });
      }
    });
  });
}
