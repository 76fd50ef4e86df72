// A PostgreSQL cluster of the test's own (initdb + pg_ctl on a free port), so a test can stop and start the
// database under a running server. Runs the binaries as the postgres user when the tests run as root.
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./server-process.ts";

export interface Cluster {
  url: string;
  stop(mode?: "immediate" | "fast"): void;
  start(): void;
  destroy(): void;
}

/** Why no throwaway cluster can be made here, or null when one can. */
export function clusterUnavailable(): string | null {
  if (!Bun.which("initdb") || !Bun.which("pg_ctl")) return "initdb/pg_ctl are not installed";
  if (userInfo().uid === 0 && !Bun.which("runuser")) return "running as root without runuser to drop to the postgres user";
  return null;
}

export function createCluster(): Cluster {
  const dir = mkdtempSync(join(tmpdir(), "endpoint-cluster-"));
  const port = freePort();
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const { uid, gid } = Bun.spawnSync(["id", "-u", "postgres"]).exitCode === 0
      ? { uid: Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString()), gid: Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString()) }
      : { uid: 0, gid: 0 };
    chownSync(dir, uid, gid);
  }
  const run = (args: string[]) => {
    const command = asRoot ? ["runuser", "-u", "postgres", "--", ...args] : args;
    const result = Bun.spawnSync(command, { stdout: "pipe", stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr.toString()}`);
  };
  const data = join(dir, "data");
  run(["initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const start = () =>
    run(["pg_ctl", "-D", data, "-l", join(dir, "server.log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: (mode = "immediate") => run(["pg_ctl", "-D", data, "-m", mode, "-w", "stop"]),
    start,
    destroy() {
      try {
        run(["pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
