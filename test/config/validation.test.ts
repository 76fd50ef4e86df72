// endpoint.yaml validation: one case per error code, each with its message and its exact line:col.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { formatFinding } from "../../src/config/findings.ts";
import { loadConfig, loadConfigText } from "../../src/config/load.ts";
import { ROOT, runCli } from "../support/cli.ts";

const ROUTES = join(import.meta.dir, "fixtures", "routes");
const load = (yaml: string, env: Record<string, string> = {}) => loadConfigText(yaml, "endpoint.yaml", { routesDir: ROUTES, env });
const lines = (...rows: string[]) => `${rows.join("\n")}\n`;

async function findingsOf(yaml: string, env?: Record<string, string>) {
  const result = await load(yaml, env);
  return result.ok ? [] : result.findings.map(formatFinding);
}

const GROUPS = lines("groups:", "  users:", "    description: People", "  services:", "    description: Machines");

const cases: Array<{ code: string; yaml: string; env?: Record<string, string>; expected: string }> = [
  { code: "yaml-syntax", yaml: lines("routes:", "  - name: a", "    path: [/x"), expected: "endpoint.yaml:4:1: Flow sequence in block collection must be sufficiently indented and end with a ] [yaml-syntax]" },
  { code: "duplicate-key", yaml: lines("routes:", "  - name: a", "    name: b", "    path: /x", "    handler: sample.list", "    public: true"), expected: "endpoint.yaml:3:5: a key appears twice in this mapping" },
  { code: "unknown-key", yaml: lines("routes:", "  - name: status", "    path: /status", "    handlr: sample.list", "    public: true"), expected: "endpoint.yaml:4:5: unknown key 'handlr' in route 'status'; did you mean 'handler'? [unknown-key]" },
  { code: "unknown-key (top level)", yaml: lines("rotues: []"), expected: "endpoint.yaml:1:1: unknown key 'rotues' at the top level; did you mean 'routes'? [unknown-key]" },
  { code: "missing-key", yaml: lines("routes:", "  - name: status", "    handler: sample.list", "    public: true"), expected: "endpoint.yaml:2:5: route 'status' is missing key 'path' [missing-key]" },
  { code: "wrong-type", yaml: lines("server:", "  port: eighty", "routes: []"), expected: "endpoint.yaml:2:9: server.port must be a whole number, not text ('eighty') [wrong-type]" },
  { code: "bad-value (range)", yaml: lines("server:", "  port: 70000", "routes: []"), expected: "endpoint.yaml:2:9: server.port must be at most 65535 [bad-value]" },
  { code: "bad-value (choices)", yaml: lines("routes:", "  - name: a", "    method: get", "    path: /a", "    handler: sample.list", "    public: true"), expected: "endpoint.yaml:3:13: route 'a': method must be one of GET, POST, PUT, PATCH, DELETE (got 'get'); did you mean 'GET'? [bad-value]" },
  { code: "unset-variable", yaml: lines("database:", "  url: ${NO_SUCH_VARIABLE}", "routes: []"), expected: "endpoint.yaml:2:8: database.url uses ${NO_SUCH_VARIABLE}, which is not set and has no default (write ${NO_SUCH_VARIABLE:-default} to give one) [unset-variable]" },
  { code: "bad-path", yaml: lines("routes:", "  - name: a", "    path: /a//b", "    handler: sample.list", "    public: true"), expected: "endpoint.yaml:3:11: route 'a': path must not contain '//' [bad-path]" },
  { code: "reserved-path", yaml: lines("routes:", "  - name: a", "    path: /admin/x", "    handler: sample.list", "    public: true"), expected: "endpoint.yaml:3:11: route 'a': paths under /admin belong to Endpoint itself; choose another path [reserved-path]" },
  { code: "duplicate-route-name", yaml: lines("routes:", "  - name: a", "    path: /a", "    handler: sample.list", "    public: true", "  - name: a", "    path: /b", "    handler: sample.list", "    public: true"), expected: "endpoint.yaml:6:11: route 'a': the name 'a' is already used by route #1 [duplicate-route-name]" },
  { code: "duplicate-route", yaml: lines("routes:", "  - name: a", "    path: /items/:id", "    handler: sample.show", "    public: true", "  - name: b", "    path: /items/:key", "    handler: sample.show", "    public: true"), expected: "endpoint.yaml:7:11: route 'b': GET /items/:key is already served by route 'a' [duplicate-route]" },
  { code: "unknown-handler-module", yaml: lines("routes:", "  - name: a", "    path: /a", "    handler: sampel.list", "    public: true"), expected: "endpoint.yaml:4:14: route 'a': no module 'sampel' in " },
  { code: "handler-module-failed", yaml: lines("routes:", "  - name: a", "    path: /a", "    handler: broken.list", "    public: true"), expected: "endpoint.yaml:4:14: route 'a': module 'broken' failed to load: database password missing in broken.ts [handler-module-failed]" },
  { code: "unknown-handler-export", yaml: lines("routes:", "  - name: a", "    path: /a", "    handler: sample.lst", "    public: true"), expected: "endpoint.yaml:4:14: route 'a': module 'sample' has no export 'lst'; did you mean 'list'? [unknown-handler-export]" },
  { code: "not-a-handler", yaml: lines("routes:", "  - name: a", "    path: /a", "    handler: sample.notAHandler", "    public: true"), expected: "endpoint.yaml:4:14: route 'a': 'sample.notAHandler' is not a handler: make it with defineHandler({ handle(...) { … } }) [not-a-handler]" },
  { code: "unknown-group", yaml: GROUPS + lines("routes:", "  - name: a", "    path: /a", "    handler: sample.list", "    groups: [ussers]"), expected: "endpoint.yaml:10:14: route 'a' names group 'ussers', which groups: does not declare; did you mean 'users'? [unknown-group]" },
  { code: "no-access-rule", yaml: lines("routes:", "  - name: a", "    path: /a", "    handler: sample.list"), expected: "endpoint.yaml:2:5: route 'a' says nobody may call it: add 'public: true' or 'groups: [...]' (routes are denied by default) [no-access-rule]" },
  { code: "no-access-rule (public: false)", yaml: lines("routes:", "  - name: a", "    path: /a", "    handler: sample.list", "    public: false"), expected: "endpoint.yaml:2:5: route 'a' says nobody may call it" },
  { code: "public-route-needs-caller", yaml: lines("routes:", "  - name: a", "    path: /a", "    handler: sample.mine", "    public: true"), expected: "endpoint.yaml:5:5: route 'a' is public, but handler sample.mine serves signed-in callers only (signedIn: true); limit the route to groups [public-route-needs-caller]" },
  { code: "conflicting-access-rule", yaml: GROUPS + lines("routes:", "  - name: a", "    path: /a", "    handler: sample.list", "    public: true", "    groups: [users]"), expected: "endpoint.yaml:11:5: route 'a' is public and also limited to groups; keep one [conflicting-access-rule]" },
];

describe("each kind of config error", () => {
  for (const c of cases)
    test(`${c.code}: message and line:col`, async () => {
      const found = await findingsOf(c.yaml, c.env);
      expect(found.length).toBeGreaterThan(0);
      expect(found[0]).toStartWith(c.expected);
    });
});

describe("validation as a whole", () => {
  test("every error in a file is reported at once, in file order", async () => {
    const found = await findingsOf(
      GROUPS +
        lines(
          "server:",
          "  prot: 8000",
          "routes:",
          "  - name: a",
          "    path: /a",
          "    handler: sample.list",
          "  - name: b",
          "    path: b",
          "    handler: sample.missing",
          "    groups: [nobody]",
        ),
    );
    expect(found.map((f) => f.match(/\[([a-z-]+)\]$/)![1])).toEqual(["unknown-key", "no-access-rule", "bad-path", "unknown-handler-export", "unknown-group"]);
    expect(found.map((f) => f.split(":").slice(1, 3).join(":"))).toEqual(["7:3", "9:5", "13:11", "14:14", "15:14"]);
  });

  test("the shipped endpoint.yaml validates", async () => {
    const result = await loadConfig(join(ROOT, "endpoint.yaml"), { env: {} });
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
  });

  test("defaults are applied", async () => {
    const result = await load(lines("routes: []"));
    if (!result.ok) throw new Error("expected a valid config");
    const { server, auth } = result.config;
    expect(server).toMatchObject({ host: "127.0.0.1", port: 8000, publicUrl: "http://localhost:8000", trustedProxies: 0, bodyLimitBytes: 1048576, openapi: "authenticated" });
    expect(auth).toMatchObject({ sessionIdleSeconds: 1800, sessionAbsoluteSeconds: 43200, cookieName: "endpoint_session", cookieSecure: false, adminGroup: "admin" });
    expect(Object.isFrozen(result.config.server)).toBe(true);
  });

  test("an https public URL makes the cookie Secure and __Host- prefixed", async () => {
    const result = await load(lines("server:", "  public_url: https://endpoint.example/", "routes: []"));
    if (!result.ok) throw new Error("expected a valid config");
    expect(result.config.server.publicUrl).toBe("https://endpoint.example");
    expect(result.config.auth).toMatchObject({ cookieSecure: true, cookieName: "__Host-session" });
  });

  test("${VAR}, ${VAR:-default} and $${ work in any string, and numbers may come from the environment", async () => {
    const yaml = lines("server:", "  port: ${PORT}", "  host: ${HOST:-0.0.0.0}", "database:", "  url: pg$${literal}", "routes:", "  - name: a", "    path: /a", "    handler: sample.list", "    public: true", "    description: ${WHO}'s route");
    const result = await load(yaml, { PORT: "9090", WHO: "ops" });
    if (!result.ok) throw new Error(JSON.stringify(result.findings));
    expect(result.config.server.port).toBe(9090);
    expect(result.config.server.host).toBe("0.0.0.0");
    expect(result.config.database.url).toBe("pg${literal}");
    expect(result.config.routes[0]!.description).toBe("ops's route");
  });

  test("a config string never becomes code", async () => {
    const result = await load(lines("routes:", "  - name: a", "    path: /a", "    handler: sample.list", "    public: true", "    description: \"';process.exit(1)//\""));
    if (!result.ok) throw new Error("expected a valid config");
    expect(result.config.routes[0]!.description).toBe("';process.exit(1)//");
  });
});

describe("hostile YAML", () => {
  test("a billion-laughs file fails fast with a clear error", async () => {
    const rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) rows.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(",")}]`);
    const started = performance.now();
    const found = await findingsOf(lines(...rows, "routes: []"));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(found[0]).toMatch(/\[yaml-syntax\]$/);
  });

  test("10,000 levels of nesting give an error, not a crash", async () => {
    const found = await findingsOf(`routes: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`);
    expect(found.length).toBeGreaterThan(0);
  });

  test("a __proto__ key is an unknown key and pollutes nothing", async () => {
    const found = await findingsOf(lines("__proto__:", "  polluted: 1", "routes: []"));
    expect(found).toEqual(["endpoint.yaml:1:1: unknown key '__proto__' at the top level [unknown-key]"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("a !!js/function tag is refused", async () => {
    const found = await findingsOf(lines("routes:", "  - name: !!js/function 'function () { process.exit(1) }'", "    path: /a", "    handler: sample.list", "    public: true"));
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatch(/^endpoint\.yaml:2:\d+: .*\[yaml-syntax\]$/);
  });
});

describe("bun run cli validate", () => {
  test("prints every finding as file:line:col and exits 1", async () => {
    const result = await runCli(["validate", "--config", "test/config/fixtures/two-errors.yaml"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual([
      "test/config/fixtures/two-errors.yaml:5:5: unknown key 'methd' in route 'status'; did you mean 'method'? [unknown-key]",
      "test/config/fixtures/two-errors.yaml:8:5: route 'whoami' says nobody may call it: add 'public: true' or 'groups: [...]' (routes are denied by default) [no-access-rule]",
    ]);
  });

  test("--json gives the same findings as data", async () => {
    const result = await runCli(["validate", "--config", "test/config/fixtures/two-errors.yaml", "--json"]);
    expect(result.exitCode).toBe(1);
    const body = JSON.parse(result.stdout);
    expect(body.ok).toBe(false);
    expect(body.errors.map((e: { code: string; line: number }) => [e.code, e.line])).toEqual([["unknown-key", 5], ["no-access-rule", 8]]);
  });

  test("a valid config gets a one-line summary and exit 0", async () => {
    const result = await runCli(["validate"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trim()).toBe("endpoint.yaml: OK — 5 routes, 3 groups");
  });

  test("a missing file is one line and exit 1", async () => {
    const result = await runCli(["validate", "--config", "nope.yaml"]);
    expect(result.stderr.trim()).toBe("nope.yaml:1:1: cannot read config file 'nope.yaml': file not found [file-not-found]");
    expect(result.exitCode).toBe(1);
  });

  test("the committed JSON Schema matches the loader's schema", async () => {
    const child = Bun.spawnSync(["bun", join(ROOT, "scripts", "config-schema.ts"), "--check"]);
    expect(child.exitCode).toBe(0);
  });
});
