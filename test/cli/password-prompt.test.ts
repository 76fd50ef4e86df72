// add-user with neither --password nor --password-stdin asks twice on a terminal (a pseudo-terminal here).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { ROOT, runCli } from "../support/cli.ts";

const script = Bun.which("script");
if (!script) console.log("password-prompt.test.ts: util-linux `script` is not installed; the terminal prompt is not exercised");

describe.skipIf(!script)("the password prompt on a terminal", () => {
  let database: FreshDatabase;
  beforeAll(async () => {
    database = await testBackends()[0]!.create({ migrated: true });
  });
  afterAll(() => database.drop());

  /** Run the CLI on a pseudo-terminal, typing `input`. */
  async function onTerminal(args: string[], input: string) {
    const command = ["bun", join(ROOT, "cli", "main.ts"), ...args, "--database-url", database.url].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const child = Bun.spawn(["script", "-qec", command, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { ...process.env, DATABASE_URL: "" } });
    await Bun.sleep(1500); // let the prompt appear before typing, as a person would
    child.stdin.write(input);
    await child.stdin.flush();
    const exitCode = await child.exited;
    return { exitCode, output: await new Response(child.stdout).text() };
  }

  test("asks for the password twice and creates the user", async () => {
    const result = await onTerminal(["add-user", "--username", "tty-user"], "typed on a terminal 1\rtyped on a terminal 1\r");
    expect(result.output).toContain("Password: ");
    expect(result.output).toContain("Repeat password: ");
    expect(result.output).not.toContain("typed on a terminal 1");
    expect(result.exitCode).toBe(0);
    const users = JSON.parse((await runCli(["list-users", "--json", "--database-url", database.url])).stdout);
    expect(users.map((u: { username: string }) => u.username)).toContain("tty-user");
  });

  test("two different entries change nothing", async () => {
    const result = await onTerminal(["add-user", "--username", "tty-other"], "first long password\rsecond long password\r");
    expect(result.output).toContain("error: the two passwords differ; nothing was changed");
    expect(result.exitCode).toBe(1);
  });
});
