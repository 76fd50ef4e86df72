// Runs the real CLI entry point in a child process, the way a person or a deploy script would.
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  options: { stdin?: string; env?: Record<string, string | undefined>; cwd?: string; entry?: string } = {},
): Promise<CliResult> {
  // The CLI sees only the database the test names, never the one the test run itself was pointed at.
  const merged: Record<string, string | undefined> = { ...process.env, DATABASE_URL: undefined, TEST_DATABASE_URL: undefined, ...options.env };
  const env = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const child = Bun.spawn(["bun", options.entry ?? join(ROOT, "cli", "main.ts"), ...args], {
    cwd: options.cwd ?? ROOT,
    env,
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, stdout, stderr };
}
