// `bun run bench --cli`: how long CLI commands take, as a person at a terminal sees it (process start to exit),
// against `bun -e 0`, Bun's own start-up. Each command runs several times; the median counts. Budgets (issue 12):
// --help and validate at most 100 ms over `bun -e 0`; list-users on PostgreSQL at most 300 ms over. Embedded
// figures are reported with where their time goes (PGlite's WASM start and its initdb), and not budgeted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";

const ROOT = join(import.meta.dir, "..");
const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 7);
const env = { ...process.env, DATABASE_URL: "", NO_COLOR: "1" } as Record<string, string>;

/** Wall time of one run, in ms; fails loudly when the command fails (a broken command is not fast). */
function timeOnce(command: string[], extraEnv: Record<string, string> = {}): number {
  const started = performance.now();
  const run = Bun.spawnSync(command, { cwd: ROOT, env: { ...env, ...extraEnv }, stdout: "pipe", stderr: "pipe" });
  const elapsed = performance.now() - started;
  if (run.exitCode !== 0) throw new Error(`${command.join(" ")} exited ${run.exitCode}: ${run.stderr.toString().trim()}`);
  return elapsed;
}

function median(command: string[], extraEnv?: Record<string, string>): number {
  const times = Array.from({ length: RUNS }, () => timeOnce(command, extraEnv)).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const cli = (...args: string[]) => ["bun", "cli/main.ts", ...args];
const rows: Array<{ what: string; ms: number; budget?: number }> = [];
const base = median(["bun", "-e", "0"]);
rows.push({ what: "bun -e 0 (Bun's own start-up)", ms: base });
rows.push({ what: "cli --help", ms: median(cli("--help")), budget: base + 100 });
rows.push({ what: "cli validate", ms: median(cli("validate")), budget: base + 100 });

const serverUrl = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `endpoint_bench_cli_${crypto.randomUUID().slice(0, 8)}`;
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
let postgresUrl: string | undefined;
try {
  await admin`create database ${admin(name)}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  postgresUrl = url.toString();
  timeOnce(cli("init-db", "--database-url", postgresUrl));
  rows.push({ what: "cli list-users (PostgreSQL)", ms: median(cli("list-users", "--database-url", postgresUrl)), budget: base + 300 });
} catch (error) {
  console.error(`PostgreSQL at ${serverUrl} not usable, its row is skipped: ${(error as Error).message}`);
}

const folder = join(mkdtempSync(join(tmpdir(), "endpoint-bench-cli-")), "db");
try {
  rows.push({ what: "cli init-db (embedded, new folder: initdb + migrations)", ms: timeOnce(cli("init-db", "--database-url", `pglite:${folder}`)) });
  rows.push({ what: "cli list-users (embedded, opened directly)", ms: median(cli("list-users", "--database-url", `pglite:${folder}`)) });
  // The same command beside a running dev-server goes through its socket with the PostgreSQL driver.
  const server = Bun.spawn(cli("dev-server", "--port", "0", "--no-watch", "--database-url", `pglite:${folder}`), {
    cwd: ROOT,
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = (server.stderr as ReadableStream<Uint8Array>).getReader();
  let banner = "";
  while (!banner.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`dev-server did not start: ${banner}`);
    banner += new TextDecoder().decode(value);
  }
  rows.push({ what: "cli list-users (embedded, beside dev-server, through its socket)", ms: median(cli("list-users", "--database-url", `pglite:${folder}`)) });
  server.kill("SIGTERM");
  await server.exited;
} finally {
  rmSync(join(folder, ".."), { recursive: true, force: true });
  if (postgresUrl) await admin`drop database if exists ${admin(name)} with (force)`.catch(() => {});
  await admin.end();
}

const pad = (text: string, width: number) => text.padEnd(width);
console.log(`CLI start-to-exit times, median of ${RUNS} runs (first embedded init-db: one run)\n`);
for (const row of rows) {
  const verdict = row.budget === undefined ? "" : row.ms <= row.budget ? `PASS (budget ${row.budget.toFixed(0)} ms)` : `MISS (budget ${row.budget.toFixed(0)} ms)`;
  console.log(`${pad(row.what, 66)} ${row.ms.toFixed(0).padStart(6)} ms  ${verdict}`);
}
