// `bun run bench`: Endpoint against three references, measured with wrk: bare Bun.serve answering "ok", the floor
// (the same work written by hand on Bun.serve: bench/hand-written.tsx) and a peer (Hono with its own middleware:
// bench/hono.ts). Starts Endpoint in production mode on a fixture database (PGlite, or PostgreSQL when
// DATABASE_URL is set) with request logging written to a file, pins each server to one core and wrk to the other,
// warms up, runs interleaved rounds, prints PASS or MISS for each budget line, and writes bench/results.md. Exits
// non-zero if any response had an unexpected status (a MISS is reported, not an error).
// The default run also measures what counting requests for /metrics costs: Endpoint runs a second time with
// bench/endpoint-metrics-off.yaml (server.metrics: off) on the same fixture (a copy, on PGlite), and the public and token
// scenarios run against both in the same interleaved rounds; `bun run bench --metrics` runs only that comparison.
// `bun run bench --cli` instead times CLI commands (bench/cli.ts).
// `bun run bench --soak 60` instead drives a mix for 60 s and reports RSS at 100k requests and at the end.
// The default run ends with the login flood (about 15 s more): /healthz latency alone, then while 100 connections
// send wrong passwords as fast as they are answered; `bun run bench --login-flood` runs only that.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sign as signHonoJwt } from "hono/jwt";
import postgres from "postgres";
import { parse as parseYaml } from "yaml";
import { migrateToLatest } from "../db/migrate.ts";
import { openDatabase } from "../db/open.ts";
import { addMember, createGroup } from "../src/accounts/groups.ts";
import { createUser } from "../src/accounts/users.ts";
import { accountRules } from "../src/accounts/rules.ts";
import { issueToken } from "../src/auth/issue-token.ts";
import { TokenCodec } from "../src/auth/token-codec.ts";

const ROOT = join(import.meta.dir, "..");
const { values: options } = parseArgs({
  options: {
    soak: { type: "string" },
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "64" },
    cli: { type: "boolean" },
    "login-flood": { type: "boolean" },
    metrics: { type: "boolean" },
  },
});
if (options.cli) {
  await import("./cli.ts");
  process.exit(0);
}
const SECONDS = Number(options.duration);
const ROUNDS = Number(options.rounds);
const CONNECTIONS = Number(options.connections);
const SECRET = Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url");
const PASSWORD = "benchmark password 123";
const actor = { name: "bench", source: "cli" as const, recentlyAuthenticated: true };
const twoCores = cpus().length >= 2;
const pin = (core: number, command: string[]) => (twoCores ? ["taskset", "-c", String(core), ...command] : command);

function ensureWrk(): void {
  if (Bun.which("wrk")) return;
  console.error("wrk is missing; installing it from Debian (apt-get install -y wrk)");
  const install = Bun.spawnSync(["sh", "-c", "apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)"], { stdout: "inherit", stderr: "inherit" });
  if (install.exitCode !== 0 || !Bun.which("wrk")) throw new Error("could not install wrk; install it with: apt-get install wrk");
}

/** A fresh database with a service, a person, an outsider and their tokens. */
async function prepareDatabase(work: string) {
  let url = `pglite:${join(work, "db")}`;
  let drop = async () => {};
  if (process.env.DATABASE_URL) {
    const name = `endpoint_bench_${crypto.randomUUID().slice(0, 8)}`;
    const admin = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin`create database ${admin(name)}`;
    await admin.end();
    const target = new URL(process.env.DATABASE_URL);
    target.pathname = `/${name}`;
    url = target.toString();
    drop = async () => {
      const again = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
      await again`drop database if exists ${again(name)} with (force)`;
      await again.end();
    };
  }
  const handle = await openDatabase(url, { create: true });
  await migrateToLatest(handle.db);
  const codec = new TokenCodec({ signing: SECRET, verifying: [SECRET], source: "environment" });
  for (const [user, group] of [["svc", "services"], ["joe", "users"], ["outsider", null]] as const) {
    await createUser(handle.db, actor, { username: user, password: PASSWORD });
    if (group) {
      await createGroup(handle.db, actor, { name: group });
      await addMember(handle.db, accountRules(), actor, group, user);
    }
  }
  const token = async (username: string) => (await issueToken(handle.db, codec, accountRules(), actor, { username, name: "bench", expiresInSeconds: 86_400, defaultExpirySeconds: 86_400, maxExpirySeconds: 86_400 })).token;
  const tokens = { service: await token("svc"), outsider: await token("outsider") };
  const serviceSub = (await handle.db.selectFrom("users").select("id").where("username", "=", "svc").executeTakeFirstOrThrow()).id;
  await handle.close();
  return { url, drop, tokens, serviceSub, backend: url.startsWith("pglite:") ? "PGlite (embedded)" : "PostgreSQL" };
}

interface Started {
  child: ReturnType<typeof Bun.spawn>;
  url: string;
}

async function startProcess(command: string[], env: Record<string, string>, logFile?: string): Promise<Started> {
  const child = Bun.spawn(pin(0, command), {
    cwd: ROOT,
    env: { ...process.env, ...env } as Record<string, string>,
    stdout: logFile ? Bun.file(logFile) : "ignore",
    stderr: "pipe",
  });
  const reader = child.stderr.getReader();
  let seen = "";
  while (!/listening on (http:\/\/\S+)/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${command.join(" ")} did not start: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { child, url: /listening on (http:\/\/\S+)/.exec(seen)![1]! };
}

const memory = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") * 1024, peak: kb("VmHWM") * 1024 };
};

interface Scenario {
  name: string;
  path: string;
  method?: string;
  body?: string;
  headers: string[];
  expected: number;
  /** endpointOff: Endpoint with server.metrics: off (bench/endpoint-metrics-off.yaml). */
  target: "baseline" | "floor" | "hono" | "endpoint" | "endpointOff";
  /** For an Endpoint scenario: the floor scenario it is measured against, and its share of the floor's req/s to reach. */
  budget?: { floor: string; share: number };
  /** A wrk script other than bench/wrk.lua, a connection count other than --connections, a timeout other than 2 s. */
  script?: string;
  connections?: number;
  timeoutSeconds?: number;
}

interface Run {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  errors: number;
  peakRss: number;
  requests: number;
  /**
   * The server process's CPU time (user + system, all threads) per answered request, in µs. Unlike req/s it is not
   * lowered by time the machine gives to others (steal, a noisy neighbour), so two runs on a busy host compare better.
   */
  cpuPerRequest: number;
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const CLOCK_TICKS = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
/** A process's CPU time so far in seconds, all threads: utime + stime from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function runWrk(url: string, scenario: Scenario, seconds: number, pid: number): Promise<Run> {
  const args = ["wrk", "-t1", `-c${scenario.connections ?? CONNECTIONS}`, `-d${seconds}s`, "--latency", "-s", scenario.script ?? join(import.meta.dir, "wrk.lua")];
  for (const header of scenario.headers) args.push("-H", header);
  if (scenario.timeoutSeconds) args.push("--timeout", `${scenario.timeoutSeconds}s`);
  const child = Bun.spawn(pin(1, [...args, url + scenario.path]), {
    env: { ...process.env, WRK_METHOD: scenario.method ?? "GET", WRK_BODY: scenario.body ?? "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let peakRss = 0;
  const cpuBefore = cpuSeconds(pid);
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, memory(pid).rss);
    } catch {}
  }, 200);
  const output = await new Response(child.stdout).text();
  await child.exited;
  const cpuUsed = cpuSeconds(pid) - cpuBefore;
  clearInterval(sampler);
  const line = output.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (!line) throw new Error(`wrk gave no result for ${scenario.name}: ${output} ${await new Response(child.stderr).text()}`);
  const result = JSON.parse(line.slice("BENCH_RESULT ".length));
  return {
    requestsPerSecond: result.requests / (result.duration_us / 1e6),
    p50: result.p50_us / 1000,
    p99: result.p99_us / 1000,
    statuses: result.statuses,
    errors: result.errors,
    peakRss,
    requests: result.requests,
    cpuPerRequest: result.requests > 0 ? (cpuUsed * 1e6) / result.requests : Number.NaN,
  };
}

/** A sign-in form's CSRF cookie ("name=value") and field. */
async function loginForm(base: string): Promise<{ csrfCookie: string; field: string }> {
  const page = await fetch(`${base}/login`);
  const csrfCookie = page.headers.getSetCookie()[0]!.split(";")[0]!;
  const field = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  return { csrfCookie, field };
}

async function signIn(base: string, username: string): Promise<string> {
  const { csrfCookie, field } = await loginForm(base);
  const response = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(base).origin, cookie: csrfCookie },
    body: new URLSearchParams({ username, password: PASSWORD, _csrf: field }).toString(),
  });
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("endpoint_session="));
  if (!cookie) throw new Error(`could not sign in as ${username}: ${response.status}`);
  return cookie.split(";")[0]!;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

function describeMachine(): string {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? "unknown CPU";
  const kernel = Bun.spawnSync(["uname", "-r"]).stdout.toString().trim();
  const wrk = Bun.spawnSync(["wrk", "--version"]).stdout.toString().split("\n")[0]?.split(" Copyright")[0];
  return `${cpus().length} × ${model}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${kernel}, Bun ${Bun.version}, ${wrk}`;
}

/** Put one section into bench/results.md, keeping the others (one per database, one per soak). */
function writeSection(title: string, body: string): void {
  const file = join(import.meta.dir, "results.md");
  let existing = "";
  try {
    existing = readFileSync(file, "utf8");
  } catch {}
  const sections = new Map<string, string>();
  for (const part of existing.split(/^## /m).slice(1)) {
    const newline = part.indexOf("\n");
    sections.set(part.slice(0, newline).trim(), part.slice(newline + 1).trim());
  }
  sections.set(title, body.trim());
  const ordered = [...sections.entries()].sort(([a], [b]) => a.localeCompare(b));
  const text = [
    "# Endpoint benchmark",
    "",
    "Made by `bun run bench` (PGlite), `DATABASE_URL=… bun run bench` (PostgreSQL), `bun run bench --soak 60`, `bun run bench --login-flood` and `bun run bench --metrics` (the last two are also part of every default run).",
    "Ratios compare with bare `Bun.serve` answering \"ok\", and with the floor (the same work written by hand on Bun.serve), in the same run.",
    "",
    ...ordered.flatMap(([name, content]) => [`## ${name}`, "", content, ""]),
  ].join("\n");
  writeFileSync(file, text);
}

/** The Endpoint scenarios that also run against Endpoint with server.metrics: off. */
const METRICS_SCENARIOS = ["public JSON route", "token-guarded JSON route"];
const METRICS_OFF_CONFIG = "bench/endpoint-metrics-off.yaml";
const metricsOff = (name: string) => `${name} (metrics off)`;
const loadAverage = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** bench/endpoint-metrics-off.yaml must be bench/endpoint.yaml with server.metrics: off, and nothing else changed. */
function checkMetricsOffConfig(): void {
  const read = (file: string) => parseYaml(readFileSync(join(ROOT, file), "utf8")) as { server?: { metrics?: string } };
  const on = read("bench/endpoint.yaml");
  const off = read(METRICS_OFF_CONFIG);
  if (on.server?.metrics === "off") throw new Error("bench/endpoint.yaml has server.metrics: off; the benchmark measures Endpoint with metrics on");
  if (off.server?.metrics !== "off") throw new Error(`${METRICS_OFF_CONFIG} must have server.metrics: off`);
  delete on.server?.metrics;
  delete off.server.metrics;
  if (!Bun.deepEquals(on, off)) throw new Error(`${METRICS_OFF_CONFIG} differs from bench/endpoint.yaml in more than server.metrics: make it a copy with server.metrics: off`);
}

/** The default run, or with `onlyMetrics` (--metrics) just Endpoint's metrics on/off comparison. */
async function main(onlyMetrics = false): Promise<number> {
  ensureWrk();
  const compareMetrics = !options.soak;
  if (compareMetrics) checkMetricsOffConfig();
  const work = mkdtempSync(join(tmpdir(), "endpoint-bench-"));
  const database = await prepareDatabase(work);
  // An embedded (PGlite) database belongs to one process: the metrics-off server gets a copy of the fixture.
  let offDatabaseUrl = database.url;
  if (compareMetrics && database.url.startsWith("pglite:")) {
    cpSync(join(work, "db"), join(work, "db-metrics-off"), { recursive: true });
    offDatabaseUrl = `pglite:${join(work, "db-metrics-off")}`;
  }
  const accessLog = join(work, "endpoint.log");
  const started: Started[] = [];
  const start = async (command: string[], env: Record<string, string>, logFile?: string) => {
    const server = await startProcess(command, env, logFile);
    started.push(server);
    return server;
  };
  const startEndpoint = (config: string, url: string, logFile: string) =>
    start(["bun", "cli/main.ts", "serve", "--config", config, "--database-url", url, "--port", "0"], { NODE_ENV: "production", ENDPOINT_SECRET: SECRET, DATABASE_URL: "" }, logFile);
  try {
    const endpoint = await startEndpoint("bench/endpoint.yaml", database.url, accessLog);
    // Logging to a file of its own, as the metrics-on server does, so the two differ only in server.metrics.
    const endpointOff = compareMetrics ? await startEndpoint(METRICS_OFF_CONFIG, offDatabaseUrl, join(work, "endpoint-metrics-off.log")) : undefined;
    const baseline = onlyMetrics ? undefined : await start(["bun", "bench/baseline.ts", "0"], {});
    const pid = endpoint.child.pid;
    const cookie = await signIn(endpoint.url, "joe");
    const references = {
      BENCH_SERVICE_TOKEN: database.tokens.service,
      BENCH_OUTSIDER_TOKEN: database.tokens.outsider,
      BENCH_COOKIE: cookie,
      BENCH_SECRET: SECRET,
      BENCH_SERVICE_SUB: database.serviceSub,
    };
    const floor = onlyMetrics ? undefined : await start(["bun", "bench/hand-written.tsx", "0", join(work, "floor.log")], references);
    const hono = onlyMetrics ? undefined : await start(["bun", "bench/hono.ts", "0", join(work, "hono.log")], references);
    const bearer = (token: string) => `Authorization: Bearer ${token}`;
    // Hono's jwt middleware accepts only `typ: JWT`, so its caller gets a plain HS256 JWT for the same user.
    const honoToken = await signHonoJwt({ sub: database.serviceSub, exp: Math.floor(Date.now() / 1000) + 86_400 }, SECRET, "HS256");
    const allScenarios: Scenario[] = [
      { name: "bare Bun.serve (baseline)", path: "/", headers: [], expected: 200, target: "baseline" },
      { name: "floor: public JSON", path: "/status", headers: [], expected: 200, target: "floor" },
      { name: "floor: token-guarded JSON", path: "/service/status", headers: [bearer(database.tokens.service)], expected: 200, target: "floor" },
      { name: "floor: denied (403)", path: "/service/status", headers: [bearer(database.tokens.outsider)], expected: 403, target: "floor" },
      { name: "floor: session-guarded page", path: "/dashboard", headers: [`Cookie: ${cookie}`], expected: 200, target: "floor" },
      { name: "Hono: public JSON", path: "/status", headers: [], expected: 200, target: "hono" },
      { name: "Hono: token-guarded JSON (hono/jwt)", path: "/service/status", headers: [bearer(honoToken)], expected: 200, target: "hono" },
      { name: "public JSON route", path: "/status", headers: [], expected: 200, target: "endpoint", budget: { floor: "floor: public JSON", share: 0.9 } },
      {
        name: "token-guarded JSON route",
        path: "/service/status",
        headers: [bearer(database.tokens.service)],
        expected: 200,
        target: "endpoint",
        budget: { floor: "floor: token-guarded JSON", share: 0.85 },
      },
      {
        // The limiter's cost on the request path: a batch of permits per window, then counting in memory.
        name: "token-guarded JSON route, rate-limited",
        path: "/service/limited",
        headers: [bearer(database.tokens.service)],
        expected: 200,
        target: "endpoint",
      },
      {
        name: "session-guarded HTML page",
        path: "/dashboard",
        headers: [`Cookie: ${cookie}`],
        expected: 200,
        target: "endpoint",
        budget: { floor: "floor: session-guarded page", share: 0.8 },
      },
      {
        name: "token-guarded POST that writes a row",
        path: "/hooks/events",
        method: "POST",
        body: JSON.stringify({ kind: "bench.event", payload: { n: 1 } }),
        headers: [bearer(database.tokens.service), "Content-Type: application/json"],
        expected: 201,
        target: "endpoint",
      },
      {
        name: "denied request (wrong group)",
        path: "/service/status",
        headers: [bearer(database.tokens.outsider)],
        expected: 403,
        target: "endpoint",
        budget: { floor: "floor: denied (403)", share: 0.85 },
      },
    ];
    if (options.soak) return await soak(Number(options.soak), allScenarios.filter((s) => s.target === "endpoint"), endpoint.url, pid, database.backend);
    // Each metrics scenario is followed by the same requests to the metrics-off server, so the two run back to back
    // in every round; --metrics keeps only these pairs.
    const withMetricsOff = allScenarios.flatMap((s) =>
      compareMetrics && METRICS_SCENARIOS.includes(s.name) ? [s, { ...s, name: metricsOff(s.name), target: "endpointOff" as const, budget: undefined }] : [s],
    );
    const scenarios = onlyMetrics ? withMetricsOff.filter((s) => METRICS_SCENARIOS.includes(s.name) || s.target === "endpointOff") : withMetricsOff;
    const servers: Partial<Record<Scenario["target"], Started>> = { baseline, floor, hono, endpoint, endpointOff };
    const serverOf = (s: Scenario) => servers[s.target] ?? (() => { throw new Error(`no server for ${s.name}`); })();
    const urlOf = (s: Scenario) => serverOf(s).url;
    const pidOf = (s: Scenario) => serverOf(s).child.pid;

    const loadBefore = loadAverage();

    console.error(`warming up (${scenarios.length} × 2 s)…`);
    for (const scenario of scenarios) await runWrk(urlOf(scenario), scenario, 2, pidOf(scenario));
    const runs = new Map<string, Run[]>(scenarios.map((s) => [s.name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const scenario of scenarios) {
        const run = await runWrk(urlOf(scenario), scenario, SECONDS, pidOf(scenario));
        runs.get(scenario.name)!.push(run);
        console.error(`round ${round}/${ROUNDS}  ${scenario.name.padEnd(52)} ${Math.round(run.requestsPerSecond).toString().padStart(7)} req/s  p99 ${run.p99.toFixed(2)} ms`);
      }
    }
    const loadAfter = loadAverage();
    const unexpectedIn = (scenario: Scenario) =>
      runs.get(scenario.name)!.reduce((n, r) => n + r.errors + Object.entries(r.statuses).filter(([code]) => Number(code) !== scenario.expected).reduce((m, [, v]) => m + v, 0), 0);
    const unexpectedTotal = scenarios.reduce((n, s) => n + unexpectedIn(s), 0);
    if (compareMetrics) {
      const report = metricsReport(runs, loadBefore, loadAfter, database.url.startsWith("pglite:"));
      writeSection(`Metrics on/off: ${database.backend}`, report);
      console.log(report);
    }
    if (onlyMetrics) {
      if (unexpectedTotal > 0) console.error(`${unexpectedTotal} unexpected responses`);
      return unexpectedTotal > 0 ? 1 : 0;
    }
    const baselineRps = median(runs.get(scenarios[0]!.name)!.map((r) => r.requestsPerSecond));
    const rows = scenarios.map((scenario) => {
      const list = runs.get(scenario.name)!;
      const rps = list.map((r) => r.requestsPerSecond);
      const nonSuccess = list.reduce((n, r) => n + Object.entries(r.statuses).filter(([code]) => Number(code) >= 300).reduce((m, [, v]) => m + v, 0), 0);
      const unexpected = unexpectedIn(scenario);
      const floorRuns = scenario.budget ? runs.get(scenario.budget.floor)! : undefined;
      const toFloor = floorRuns ? (median(rps) / median(floorRuns.map((r) => r.requestsPerSecond))).toFixed(2) : "";
      const cpu = median(list.map((r) => r.cpuPerRequest));
      const cpuToFloor = floorRuns ? (median(floorRuns.map((r) => r.cpuPerRequest)) / cpu).toFixed(2) : "";
      return `| ${scenario.name} | ${Math.round(median(rps)).toLocaleString("en")} (${Math.round(Math.min(...rps)).toLocaleString("en")}–${Math.round(Math.max(...rps)).toLocaleString("en")}) | ${(median(rps) / baselineRps).toFixed(2)} | ${toFloor} | ${cpu.toFixed(1)} | ${cpuToFloor} | ${median(list.map((r) => r.p50)).toFixed(2)} | ${median(list.map((r) => r.p99)).toFixed(2)} | ${nonSuccess} | ${unexpected} | ${mb(Math.max(...list.map((r) => r.peakRss)))} |`;
    });
    // The budget: each Endpoint route's median req/s as a share of the floor's, and p99 at most 1.5× the floor's.
    const budgetLines = scenarios
      .filter((s) => s.budget)
      .map((scenario) => {
        const mine = runs.get(scenario.name)!;
        const floorRuns = runs.get(scenario.budget!.floor)!;
        const share = median(mine.map((r) => r.requestsPerSecond)) / median(floorRuns.map((r) => r.requestsPerSecond));
        const p99Ratio = median(mine.map((r) => r.p99)) / median(floorRuns.map((r) => r.p99));
        const pass = share >= scenario.budget!.share && p99Ratio <= 1.5;
        // Not part of the verdict: the same share measured by the server's CPU time, to tell a busy host from slow code.
        const cpuShare = median(floorRuns.map((r) => r.cpuPerRequest)) / median(mine.map((r) => r.cpuPerRequest));
        return `- ${pass ? "PASS" : "MISS"} ${scenario.name}: ${share.toFixed(2)}× the floor's req/s (budget ${scenario.budget!.share.toFixed(2)}×), p99 ${p99Ratio.toFixed(2)}× the floor's (budget 1.50×); by server CPU per request ${cpuShare.toFixed(2)}× the floor's`;
      });
    const logLines = readFileSync(accessLog, "utf8").split("\n").length - 1;
    const report = [
      `Run on ${new Date().toISOString().slice(0, 10)}: ${describeMachine()}.`,
      `Server ${twoCores ? "pinned to core 0, wrk to core 1" : "and wrk sharing one core"}; wrk -t1 -c${CONNECTIONS}; ${ROUNDS} interleaved rounds of ${SECONDS} s after a 2 s warm-up per scenario; Endpoint in production mode with request logging on (${logLines.toLocaleString("en")} lines written to a file).`,
      "",
      "| scenario | req/s median (min–max) | ratio to bare Bun.serve | share of the floor | server CPU µs per request | share of the floor by CPU | p50 ms | p99 ms | non-2xx | unexpected | peak RSS MB |",
      "|---|---|---|---|---|---|---|---|---|---|---|",
      ...rows,
      "",
      "Budget (Endpoint against the floor, the same work written by hand on Bun.serve):",
      "",
      ...budgetLines,
      "",
      "`non-2xx` counts every answer of 300 or more (the denied scenario expects 403 for all of them); `unexpected` counts answers whose status was not the one the scenario expects, plus socket errors.",
      "`server CPU µs per request` is the server process's user and system time (all threads, from /proc) during a run, divided by the requests it answered; `share of the floor by CPU` is the floor's figure divided by this one. Time the host gives to other work lowers req/s but not this, so when the two shares disagree, the host was busy.",
    ].join("\n");
    writeSection(`Database: ${database.backend}`, report);
    console.log(report);
    if (unexpectedTotal > 0) console.error(`${unexpectedTotal} unexpected responses`);
    return unexpectedTotal > 0 ? 1 : 0;
  } finally {
    for (const server of started) server.child.kill("SIGTERM");
    await Promise.all(started.map((server) => server.child.exited));
    await database.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * What counting requests for /metrics costs on the request path: each metrics scenario against Endpoint with
 * server.metrics on and off, run back to back in every round. With the server's core saturated, 1e6 ÷ req/s is the
 * server's time per request, so the cost per request is the difference of those. The per-round differences show the
 * noise: the cost is called within noise unless every round's difference has the same sign and the req/s
 * difference is larger than either side's run-to-run spread ((max − min) ÷ median).
 */
function metricsReport(runs: Map<string, Run[]>, loadBefore: string, loadAfter: string, embedded: boolean): string {
  const signed = (value: number, digits: number) => `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(digits)}`;
  const perRequest = (run: Run) => 1e6 / run.requestsPerSecond;
  const spread = (values: number[]) => ((Math.max(...values) - Math.min(...values)) / median(values)) * 100;
  const rows: string[] = [];
  const lines: string[] = [];
  for (const name of METRICS_SCENARIOS) {
    const on = runs.get(name);
    const off = runs.get(metricsOff(name));
    if (!on || !off) continue;
    const row = (label: string, list: Run[]) => {
      const rps = list.map((r) => r.requestsPerSecond);
      return `| ${name} | ${label} | ${Math.round(median(rps)).toLocaleString("en")} (${Math.round(Math.min(...rps)).toLocaleString("en")}–${Math.round(Math.max(...rps)).toLocaleString("en")}) | ${spread(rps).toFixed(1)} % | ${median(list.map(perRequest)).toFixed(2)} | ${median(list.map((r) => r.cpuPerRequest)).toFixed(2)} | ${median(list.map((r) => r.p50)).toFixed(2)} | ${median(list.map((r) => r.p99)).toFixed(2)} |`;
    };
    rows.push(row("on", on), row("off", off));
    const rpsOn = median(on.map((r) => r.requestsPerSecond));
    const rpsOff = median(off.map((r) => r.requestsPerSecond));
    const cost = 1e6 / rpsOn - 1e6 / rpsOff;
    const share = ((rpsOff - rpsOn) / rpsOff) * 100;
    const paired = on.map((run, i) => perRequest(run) - perRequest(off[i]!));
    const sameSign = paired.every((d) => d > 0) || paired.every((d) => d < 0);
    const noise = Math.max(spread(on.map((r) => r.requestsPerSecond)), spread(off.map((r) => r.requestsPerSecond)));
    const within = !sameSign || Math.abs(share) <= noise;
    const p50 = (median(on.map((r) => r.p50)) - median(off.map((r) => r.p50))) * 1000;
    const p99 = (median(on.map((r) => r.p99)) - median(off.map((r) => r.p99))) * 1000;
    const cpuCost = median(on.map((r) => r.cpuPerRequest)) - median(off.map((r) => r.cpuPerRequest));
    lines.push(
      `- ${name}: metrics on ${signed(cost, 2)} µs per request (${Math.abs(share).toFixed(1)} % ${share >= 0 ? "fewer" : "more"} req/s), ${signed(cpuCost, 2)} µs of server CPU per request, p50 ${signed(p50, 0)} µs, p99 ${signed(p99, 0)} µs; ` +
        `per round ${paired.map((d) => signed(d, 2)).join(", ")} µs; ${within ? `within noise (req/s spread up to ${noise.toFixed(1)} %)` : `larger than the noise (req/s spread up to ${noise.toFixed(1)} %)`}`,
    );
  }
  return [
    `Run on ${new Date().toISOString().slice(0, 10)}: ${describeMachine()}.`,
    `Server ${twoCores ? "pinned to core 0, wrk to core 1" : "and wrk sharing one core"}; wrk -t1 -c${CONNECTIONS}; ${ROUNDS} interleaved rounds of ${SECONDS} s after a 2 s warm-up per scenario, metrics on and off back to back in each round. ` +
      `Two Endpoint processes in production mode with request logging on, one with bench/endpoint.yaml (server.metrics on, the default) and one with bench/endpoint-metrics-off.yaml (server.metrics: off, otherwise the same), ${embedded ? "each on its own copy of the fixture database" : "sharing the fixture database"}. ` +
      `Load average (1, 5, 15 min) ${loadBefore} before the rounds, ${loadAfter} after.`,
    "",
    "| scenario | metrics | req/s median (min–max) | req/s spread | µs per request (1e6 ÷ req/s) | server CPU µs per request | p50 ms | p99 ms |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "What metrics on costs (on minus off; µs per request from the medians, then each round's pair):",
    "",
    ...lines,
    "",
    "Within noise means the rounds disagree on the sign, or the req/s difference is no larger than the run-to-run spread of either side.",
  ].join("\n");
}

/** Drive the scenarios in 1-second turns for `seconds`; report RSS once 100k requests are done, and at the end. */
async function soak(seconds: number, scenarios: Scenario[], url: string, pid: number, backend: string): Promise<number> {
  let total = 0;
  let unexpected = 0;
  let at100k: number | undefined;
  const started = Date.now();
  for (let turn = 0; Date.now() - started < seconds * 1000; turn++) {
    const scenario = scenarios[turn % scenarios.length]!;
    const run = await runWrk(url, scenario, 1, pid);
    total += run.requests;
    unexpected += run.errors + Object.entries(run.statuses).filter(([code]) => Number(code) !== scenario.expected).reduce((m, [, v]) => m + v, 0);
    if (at100k === undefined && total >= 100_000) at100k = memory(pid).rss;
  }
  const end = memory(pid).rss;
  const growth = at100k ? ((end - at100k) / at100k) * 100 : Number.NaN;
  const line = `${total.toLocaleString("en")} requests in ${seconds} s, the five scenarios in turn; RSS at 100k requests ${at100k ? mb(at100k) : "n/a"} MB, at the end ${mb(end)} MB (${growth >= 0 ? "+" : ""}${growth.toFixed(1)} %); ${unexpected} unexpected responses.`;
  writeSection(`Soak: ${backend}`, `Run on ${new Date().toISOString().slice(0, 10)}: ${describeMachine()}.\n\n${line}`);
  console.log(`soak (${backend}): ${line}`);
  return unexpected > 0 ? 1 : 0;
}

// The target for other routes while sign-ins are being hashed (issue 13, item 8).
const FLOOD_HEALTHZ_P99_TARGET_MS = 50;
const FLOOD_CONNECTIONS = 100;

/**
 * /healthz latency alone, then while 100 connections send wrong passwords as fast as they are answered, each for a
 * name that does not exist (hashed against the dummy hash) from an address of its own (X-Forwarded-For through one
 * trusted proxy), so the throttle never steps in and every attempt reaches the password queue. The probe sends one
 * request every 10 ms on one connection; wrk measures each from send to answer.
 */
async function loginFlood(): Promise<number> {
  ensureWrk();
  const work = mkdtempSync(join(tmpdir(), "endpoint-bench-flood-"));
  const database = await prepareDatabase(work);
  // Only the built-in routes (/login, /healthz), answering at the loopback address, behind one proxy whose
  // X-Forwarded-For is believed.
  const config = join(work, "endpoint.yaml");
  writeFileSync(config, "server:\n  allowed_hosts: [127.0.0.1]\n  trusted_proxies: 1\nroutes: []\n");
  const endpoint = await startProcess(
    ["bun", "cli/main.ts", "serve", "--config", config, "--database-url", database.url, "--port", "0"],
    { NODE_ENV: "production", ENDPOINT_SECRET: SECRET, DATABASE_URL: "" },
    join(work, "endpoint.log"),
  );
  try {
    const wrkLua = JSON.stringify(join(import.meta.dir, "wrk.lua"));
    const probeScript = join(work, "probe.lua");
    writeFileSync(probeScript, `dofile(${wrkLua})\nfunction delay() return 10 end\n`);
    const floodScript = join(work, "flood.lua");
    writeFileSync(
      floodScript,
      [
        `dofile(${wrkLua})`,
        "local n = 0",
        'local csrf = os.getenv("FLOOD_CSRF")',
        "function request()",
        "  n = n + 1",
        '  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)',
        '  return wrk.format(nil, nil, nil, "username=flood" .. n .. "&password=wrong+password+" .. n .. "&_csrf=" .. csrf .. "&next=%2F")',
        "end",
      ].join("\n"),
    );
    const { csrfCookie, field } = await loginForm(endpoint.url);
    process.env.FLOOD_CSRF = field; // runWrk passes the environment on to wrk
    const probe: Scenario = { name: "/healthz", path: "/healthz", headers: [], expected: 200, target: "endpoint", script: probeScript, connections: 1 };
    const flood: Scenario = {
      name: "wrong passwords",
      path: "/login",
      method: "POST",
      headers: ["Content-Type: application/x-www-form-urlencoded", `Origin: ${new URL(endpoint.url).origin}`, `Cookie: ${csrfCookie}`],
      expected: 401,
      target: "endpoint",
      script: floodScript,
      connections: FLOOD_CONNECTIONS,
      timeoutSeconds: 30, // an attempt waits for its turn at the password threads
    };
    const pid = endpoint.child.pid;
    console.error(`login flood: /healthz alone for ${SECONDS} s, then during ${FLOOD_CONNECTIONS} concurrent wrong passwords…`);
    const quiet = await runWrk(endpoint.url, probe, SECONDS, pid);
    // The flood starts a second early, so the password queue is full before the probe begins, and ends a second after.
    const flooding = runWrk(endpoint.url, flood, SECONDS + 2, pid);
    await Bun.sleep(1000);
    const during = await runWrk(endpoint.url, probe, SECONDS, pid);
    const attempts = await flooding;
    const count = (run: Run, status: number) => run.statuses[String(status)] ?? 0;
    const unexpected =
      quiet.errors + during.errors + attempts.errors +
      Object.entries(quiet.statuses).concat(Object.entries(during.statuses)).filter(([code]) => code !== "200").reduce((n, [, v]) => n + v, 0) +
      Object.entries(attempts.statuses).filter(([code]) => code !== "401" && code !== "503").reduce((n, [, v]) => n + v, 0);
    const row = (label: string, run: Run) => `| ${label} | ${run.requests.toLocaleString("en")} | ${run.p50.toFixed(2)} | ${run.p99.toFixed(2)} |`;
    const pass = during.p99 <= FLOOD_HEALTHZ_P99_TARGET_MS;
    const report = [
      `Run on ${new Date().toISOString().slice(0, 10)}: ${describeMachine()}.`,
      `Server ${twoCores ? "pinned to core 0, wrk to core 1" : "and wrk sharing one core"}; Endpoint in production mode. The probe: one /healthz every 10 ms on one connection for ${SECONDS} s. The flood: wrk -c${FLOOD_CONNECTIONS}, each connection posting a wrong password for a name that does not exist, from an address of its own, as soon as its previous one is answered.`,
      "",
      "| /healthz | probes | p50 ms | p99 ms |",
      "|---|---|---|---|",
      row("alone", quiet),
      row(`during ${FLOOD_CONNECTIONS} concurrent wrong passwords`, during),
      "",
      `The flood: ${attempts.requests.toLocaleString("en")} attempts in ${SECONDS + 2} s (${Math.round(attempts.requestsPerSecond).toLocaleString("en")}/s): ${count(attempts, 401).toLocaleString("en")} checked and refused (401), ${count(attempts, 503).toLocaleString("en")} told to come back (503, password queue full); ${unexpected} unexpected answers.`,
      "",
      `- ${pass ? "PASS" : "MISS"} login flood: /healthz p99 ${during.p99.toFixed(2)} ms during ${FLOOD_CONNECTIONS} concurrent wrong passwords (target ${FLOOD_HEALTHZ_P99_TARGET_MS} ms)`,
    ].join("\n");
    writeSection(`Login flood: ${database.backend}`, report);
    console.log(report);
    if (unexpected > 0) console.error(`${unexpected} unexpected responses`);
    return unexpected > 0 ? 1 : 0;
  } finally {
    endpoint.child.kill("SIGTERM");
    await endpoint.child.exited;
    await database.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (options["login-flood"]) process.exit(await loginFlood());
if (options.metrics) process.exit(await main(true));
const status = await main();
process.exit(options.soak ? status : Math.max(status, await loginFlood()));
