// The CLI's entry point: global options before or after the command, usage errors for a bare command group, and
// the top-level help naming every command without loading them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hoistGlobalOptions } from "../../cli/global-args.ts";
import { runCli } from "../support/cli.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";

describe("hoistGlobalOptions", () => {
  const commands = ["list-users", "migrate", "validate"];
  test("moves --config and --database-url written before the command to the end", () => {
    expect(hoistGlobalOptions(["--database-url", "pglite:/x", "list-users", "--json"], commands)).toEqual(["list-users", "--json", "--database-url", "pglite:/x"]);
    expect(hoistGlobalOptions(["--config=a.yaml", "validate"], commands)).toEqual(["validate", "--config=a.yaml"]);
    expect(hoistGlobalOptions(["--config", "validate", "validate"], commands)).toEqual(["validate", "--config", "validate"]);
  });
  test("leaves options after the command, other options and anything after -- alone", () => {
    expect(hoistGlobalOptions(["list-users", "--database-url", "x"], commands)).toEqual(["list-users", "--database-url", "x"]);
    expect(hoistGlobalOptions(["--help"], commands)).toEqual(["--help"]);
    expect(hoistGlobalOptions(["--config", "c.yaml", "migrate", "make", "--", "--x"], commands)).toEqual(["migrate", "make", "--config", "c.yaml", "--", "--x"]);
  });
});

for (const backend of testBackends()) {
  describe(`${backend.name}: global options before the command`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await backend.create({ migrated: true });
    });
    afterAll(() => database.drop());

    test("`cli --database-url URL list-users` works as `cli list-users --database-url URL` does", async () => {
      const before = await runCli(["--database-url", database.url, "add-user", "--username", "early", "--password-stdin"], { stdin: "a long enough password\n" });
      expect({ code: before.exitCode, err: before.stderr }).toEqual({ code: 0, err: "" });
      const listed = await runCli([`--database-url=${database.url}`, "list-users", "--json"]);
      expect(listed.exitCode).toBe(0);
      expect(JSON.parse(listed.stdout).map((u: { username: string }) => u.username)).toEqual(["early"]);
    });
  });
}

describe("usage", () => {
  test("--help names every command with its description", async () => {
    const help = await runCli(["--help"], { env: { NO_COLOR: "1" } });
    expect(help.exitCode).toBe(0);
    for (const [name, words] of [
      ["init-db", "apply all migrations"],
      ["db", "db/schema.ts"],
      ["token", "API tokens"],
      ["dev-server", "reload on save"],
    ])
      expect(help.stdout).toMatch(new RegExp(`\\n\\s+${name}\\s+.*${words}`));
  });
  test("a command group without its subcommand is a usage error (exit 2)", async () => {
    const bare = await runCli(["migrate"]);
    expect(bare.exitCode).toBe(2);
    expect(bare.stderr.trim()).toBe("error: No command specified. (see: bun run cli migrate --help)");
    const unknown = await runCli(["token", "mint"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("Unknown command mint");
  });
});
