// The seed's administration sequence and every expected failure, through the real CLI entry point.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { runCli } from "../support/cli.ts";

const PASSWORD = "correct horse battery";

for (const backend of testBackends()) {
  describe(`${backend.name}: administration commands`, () => {
    let database: FreshDatabase;
    const cli = (args: string[], stdin?: string) => runCli([...args, "--database-url", database.url], { stdin });

    beforeAll(async () => {
      database = await backend.create();
    });
    afterAll(() => database.drop());

    test("init-db creates the schema, and running it again is harmless", async () => {
      const first = await cli(["init-db"]);
      expect(first.stderr).toBe("");
      expect(first.exitCode).toBe(0);
      expect(first.stdout).toContain("applied 20261124000100_users_and_groups");
      const again = await cli(["init-db"]);
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toContain("is up to date");
    });

    test("the seed sequence builds users and memberships in the groups endpoint.yaml declares, which init-db created", async () => {
      for (const args of [
        ["add-user", "--username", "admin", "--password-stdin"],
        ["add-user", "--username", "joe", "--password-stdin"],
      ]) {
        const result = await cli(args, `${PASSWORD}\n`);
        expect(result.stderr).toBe("");
        expect(result.exitCode).toBe(0);
      }
      for (const args of [
        ["add-group-member", "--groupname", "admin", "--membername", "admin"],
        ["add-group-member", "--groupname", "users", "--membername", "joe"],
      ]) {
        const result = await cli(args);
        expect({ args, stderr: result.stderr, exitCode: result.exitCode }).toEqual({ args, stderr: "", exitCode: 0 });
      }
      const users = JSON.parse((await cli(["list-users", "--json"])).stdout);
      expect(users.map((u: any) => [u.username, u.groups, u.disabled])).toEqual([
        ["admin", ["admin"], false],
        ["joe", ["users"], false],
      ]);
      expect(users[0]).not.toHaveProperty("password_hash");
      const groups = JSON.parse((await cli(["list-groups", "--json"])).stdout);
      expect(groups.map((g: any) => [g.name, g.description, g.members, g.declared])).toEqual([
        ["admin", "Administrators of this Endpoint", ["admin"], true],
        ["services", "Remote services that post events", [], true],
        ["users", "People who read the recorded events", ["joe"], true],
      ]);
      const table = await cli(["list-users"]);
      expect(table.stdout.split("\n")[0]).toMatch(/^USERNAME\s+STATUS\s+GROUPS\s+CREATED$/);
      expect(table.stdout).toMatch(/\njoe\s+active\s+users\s+\d{4}-/);
    });

    const failures: Array<{ what: string; args: string[]; stdin?: string; message: RegExp; exitCode: number }> = [
      { what: "duplicate user", args: ["add-user", "--username", "JOE", "--password-stdin"], stdin: PASSWORD, message: /^error: user 'JOE' already exists$/, exitCode: 1 },
      { what: "duplicate group", args: ["add-group", "--groupname", "users"], message: /^error: group 'users' already exists$/, exitCode: 1 },
      { what: "unknown user", args: ["remove-user", "--username", "nobody"], message: /^error: user 'nobody' does not exist$/, exitCode: 1 },
      { what: "unknown group", args: ["remove-group", "--groupname", "ops"], message: /^error: group 'ops' does not exist$/, exitCode: 1 },
      { what: "member of unknown group", args: ["add-group-member", "--groupname", "ops", "--membername", "joe"], message: /^error: group 'ops' does not exist$/, exitCode: 1 },
      { what: "unknown member", args: ["add-group-member", "--groupname", "users", "--membername", "nobody"], message: /^error: user 'nobody' does not exist$/, exitCode: 1 },
      { what: "already a member", args: ["add-group-member", "--groupname", "users", "--membername", "joe"], message: /^error: user 'joe' is already a member of group 'users'$/, exitCode: 1 },
      { what: "not a member", args: ["remove-group-member", "--groupname", "admin", "--membername", "joe"], message: /^error: user 'joe' is not a member of group 'admin'$/, exitCode: 1 },
      { what: "empty password", args: ["add-user", "--username", "ann", "--password-stdin"], stdin: "\n", message: /^error: password must not be empty$/, exitCode: 1 },
      { what: "too-short password", args: ["add-user", "--username", "ann", "--password-stdin"], stdin: "short pass", message: /^error: password must be at least 12 characters long$/, exitCode: 1 },
      { what: "common password", args: ["add-user", "--username", "ann", "--password-stdin"], stdin: "password1234", message: /^error: password is too common/, exitCode: 1 },
      { what: "bad username", args: ["add-user", "--username", "bad name!", "--password-stdin"], stdin: PASSWORD, message: /^error: username 'bad name!' is not allowed: use 1-64 letters, digits, '\.', '_' or '-'/, exitCode: 1 },
      { what: "bad group name", args: ["add-group", "--groupname", "Ops Team"], message: /^error: group name 'Ops Team' is not allowed/, exitCode: 1 },
      { what: "missing required flag", args: ["add-group"], message: /^error: Missing required argument: --groupname \(see: bun run cli add-group --help\)$/, exitCode: 2 },
      { what: "misspelt flag", args: ["add-group", "--groupname", "x", "--descripton", "y"], message: /^error: unknown option --descripton; did you mean --description\?$/, exitCode: 2 },
      { what: "unknown command", args: ["add-usr"], message: /^error: Unknown command add-usr/, exitCode: 2 },
      { what: "no password on a pipe", args: ["add-user", "--username", "ann"], message: /^error: no password given: use --password-stdin/, exitCode: 2 },
    ];
    for (const failure of failures) {
      test(`${failure.what}: one line on stderr, exit ${failure.exitCode}`, async () => {
        const result = await cli(failure.args, failure.stdin);
        expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
        expect(result.stderr.trimEnd()).toMatch(failure.message);
        expect(result.stderr).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
        expect(result.exitCode).toBe(failure.exitCode);
      });
    }

    test("a failed command changes nothing", async () => {
      const users = JSON.parse((await cli(["list-users", "--json"])).stdout);
      expect(users.map((u: any) => u.username)).toEqual(["admin", "joe"]);
    });

    test("a password given on the command line works but never appears in output or the audit log", async () => {
      const secret = "visible in ps 12345";
      const result = await cli(["add-user", "--username", "flag-user", "--password", secret]);
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toContain("prefer --password-stdin");
      expect(result.stdout + result.stderr).not.toContain(secret);
    });

    test("set-password replaces the hash; remove-user and remove-group take memberships with them", async () => {
      expect((await cli(["set-password", "--username", "joe", "--password-stdin"], "another long password")).exitCode).toBe(0);
      expect((await cli(["remove-group-member", "--groupname", "users", "--membername", "joe"])).exitCode).toBe(0);
      expect((await cli(["add-group-member", "--groupname", "users", "--membername", "joe"])).exitCode).toBe(0);
      expect((await cli(["add-group", "--groupname", "ops"])).exitCode).toBe(0);
      expect((await cli(["add-group-member", "--groupname", "ops", "--membername", "joe"])).exitCode).toBe(0);
      expect((await cli(["remove-user", "--username", "joe"])).exitCode).toBe(0);
      const groups = JSON.parse((await cli(["list-groups", "--json"])).stdout);
      expect(groups.find((g: any) => g.name === "users").members).toEqual([]);
      expect(groups.find((g: any) => g.name === "ops").members).toEqual([]);
      expect((await cli(["remove-group", "--groupname", "ops"])).exitCode).toBe(0);
      const declared = await cli(["remove-group", "--groupname", "users"]);
      expect({ exitCode: declared.exitCode, stderr: declared.stderr.trim() }).toEqual({
        exitCode: 1,
        stderr: "error: group 'users' is declared in endpoint.yaml; remove it (and the routes that name it) from there first",
      });
      const after = JSON.parse((await cli(["list-groups", "--json"])).stdout);
      expect(after.map((g: any) => g.name)).toEqual(["admin", "services", "users"]);
    });
  });
}

describe("database URL problems", () => {
  test("an unreachable PostgreSQL is named without its password", async () => {
    const result = await runCli(["list-users", "--database-url", "postgres://postgres:s3cret@127.0.0.1:1/endpoint"]);
    expect(result.stderr.trim()).toBe("error: cannot connect to database postgres://postgres:***@127.0.0.1:1/endpoint: connection refused");
    expect(result.exitCode).toBe(1);
  });

  test("a URL of an unknown kind is refused", async () => {
    const result = await runCli(["list-users", "--database-url", "mysql://root@localhost/x"]);
    expect(result.stderr.trim()).toMatch(/^error: database URL must start with postgres:\/\/, postgresql:\/\/ or pglite:/);
    expect(result.exitCode).toBe(1);
  });

  test("a command that needs the schema refuses to run on a database that was never initialised", async () => {
    const dir = `${require("node:os").tmpdir()}/endpoint-missing-${crypto.randomUUID()}`;
    const result = await runCli(["list-users", "--database-url", `pglite:${dir}`]);
    expect(result.stderr.trim()).toBe(`error: embedded database pglite:${dir} does not exist; create it with: bun run cli init-db`);
    expect(result.exitCode).toBe(1);
  });
});
