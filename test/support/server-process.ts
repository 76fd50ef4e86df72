// Runs `bun cli/main.ts serve|dev-server …` as a real process and waits until it listens.
import { join } from "node:path";
import { ROOT } from "./cli.ts";

export interface ServerProcess {
  child: ReturnType<typeof Bun.spawn>;
  url: string;
  /** Everything the process wrote to stderr (and stdout, the log) so far. */
  output(): string;
}

export async function startServerProcess(
  args: string[],
  { env = {}, cwd = ROOT, entry = join(ROOT, "cli", "main.ts") }: { env?: Record<string, string>; cwd?: string; entry?: string } = {},
): Promise<ServerProcess> {
  const child = Bun.spawn(["bun", entry, ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: "", TEST_DATABASE_URL: "", ...env } as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
  });
  let seen = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      seen += decoder.decode(value);
    }
  };
  void pump(child.stdout as ReadableStream<Uint8Array>);
  void pump(child.stderr as ReadableStream<Uint8Array>);
  const deadline = Date.now() + 30_000;
  while (!/listening on (http:\/\/\S+)/.test(seen)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start: ${seen}`);
    await Bun.sleep(20);
  }
  return { child, url: /listening on (http:\/\/\S+)/.exec(seen)![1]!, output: () => seen };
}

/** A TCP port nobody listens on right now. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}
