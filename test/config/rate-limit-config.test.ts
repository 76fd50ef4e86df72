// validate's findings for `rate_limit` (on a route and as server.rate_limit), each where it is written, and what
// a good one resolves to: the route's own limits, `[]` for none, server.rate_limit inherited, and the built-ins.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadHandlers } from "../../src/config/handlers.ts";
import { formatFinding, loadConfigText } from "../../src/config/load.ts";
import type { Config, RateLimitPolicy } from "../../src/config/schema.ts";
import { allBuiltinRoutes } from "../../src/server/builtin/all.ts";
import { buildRouteTable } from "../../src/server/route-table.ts";

const ROUTES = join(import.meta.dir, "fixtures/routes");
const lines = (...text: string[]) => `${text.join("\n")}\n`;
/** Route 'a' with `rate_limit` written from line 6 on. */
const route = (...rateLimit: string[]) => lines("routes:", "  - name: a", "    path: /a", "    handler: sample.list", "    public: true", ...rateLimit);
const findings = async (yaml: string) => (await loadConfigText(yaml, "endpoint.yaml", { routesDir: ROUTES, env: {} })).findings.map(formatFinding);
async function load(yaml: string): Promise<Config> {
  const result = await loadConfigText(yaml, "endpoint.yaml", { routesDir: ROUTES, env: {} });
  if (!result.ok) throw new Error(result.findings.map(formatFinding).join("\n"));
  return result.config;
}

describe("validate: rate_limit", () => {
  // Reported by rateLimitPolicies (src/config/defaults.ts), after the schema let the entry through.
  const CASES: Array<{ name: string; yaml: string; expected: string[] }> = [
    {
      name: "window: 0s",
      yaml: route("    rate_limit: { limit: 5, window: 0s, per: token }"),
      expected: ["endpoint.yaml:6:37: route 'a': rate_limit.window must be a duration from 1s to 7d, such as 1m or 1h (got '0s') [bad-value]"],
    },
    {
      name: "window: 8d",
      yaml: route("    rate_limit:", "      limit: 5", "      window: 8d", "      per: token"),
      expected: ["endpoint.yaml:8:15: route 'a': rate_limit.window must be a duration from 1s to 7d, such as 1m or 1h (got '8d') [bad-value]"],
    },
    {
      name: "window: 8d in a list names the item",
      yaml: route("    rate_limit:", "      - { limit: 5, window: 1m, per: token }", "      - { limit: 9, window: 8d, per: user }"),
      expected: ["endpoint.yaml:8:29: route 'a': rate_limit.1.window must be a duration from 1s to 7d, such as 1m or 1h (got '8d') [bad-value]"],
    },
    {
      name: "window: 8d as server.rate_limit",
      yaml: lines("server:", "  rate_limit: { limit: 5, window: 8d, per: token }", "routes: []"),
      expected: ["endpoint.yaml:2:35: server.rate_limit.window must be a duration from 1s to 7d, such as 1m or 1h (got '8d') [bad-value]"],
    },
    {
      name: "two limits with the same default name (1m and 60s per token are both token-60s): at the second",
      yaml: route("    rate_limit:", "      - { limit: 5, window: 1m, per: token }", "      - { limit: 50, window: 60s, per: token }"),
      expected: ["endpoint.yaml:8:9: route 'a': rate_limit: two limits are named 'token-60s'; give one a different window, per or name [bad-value]"],
    },
    {
      name: "two limits given the same name: at the second name",
      yaml: route("    rate_limit:", "      - { limit: 5, window: 1m, per: token, name: burst }", "      - { limit: 50, window: 1h, per: user, name: burst }"),
      expected: ["endpoint.yaml:8:51: route 'a': rate_limit: two limits are named 'burst'; give one a different window, per or name [bad-value]"],
    },
  ];
  for (const { name, yaml, expected } of CASES)
    test(name, async () => {
      expect(await findings(yaml)).toEqual(expected);
    });

  // Faults inside an entry the schema checks (src/config/check-schema.ts). `rate_limit` is a union (one mapping or a
  // list): a union no alternative fits is reported with the findings of the one alternative of the value's own
  // shape, at the key at fault (it used to be "rate_limit must be a mapping or a list", at the value's start).
  const SCHEMA_CASES: Array<{ name: string; yaml: string; expected: string[] }> = [
    {
      name: "per: something-else",
      yaml: route("    rate_limit: { limit: 5, window: 1m, per: something-else }"),
      expected: ["endpoint.yaml:6:46: route 'a': rate_limit.per must be one of token, user, address, route (got 'something-else') [bad-value]"],
    },
    { name: "limit: 0", yaml: route("    rate_limit: { limit: 0, window: 1m, per: token }"), expected: ["endpoint.yaml:6:26: route 'a': rate_limit.limit must be at least 1 [bad-value]"] },
    {
      name: 'limit: "ten"',
      yaml: route('    rate_limit: { limit: "ten", window: 1m, per: token }'),
      expected: ["endpoint.yaml:6:26: route 'a': rate_limit.limit must be a whole number, not text ('ten') [wrong-type]"],
    },
    {
      name: 'window: "soon"',
      yaml: route('    rate_limit: { limit: 5, window: "soon", per: token }'),
      // The message every duration gets when its text is unreadable (as cors.max_age: 10 minutes).
      expected: ["endpoint.yaml:6:37: route 'a': rate_limit.window must be text or a whole number [wrong-type]"],
    },
    {
      name: "an unknown key",
      yaml: route("    rate_limit: { limit: 5, window: 1m, per: token, burst: 3 }"),
      expected: ["endpoint.yaml:6:53: unknown key 'burst' in route 'a': rate_limit [unknown-key]"],
    },
    {
      name: "an unknown key in a list's item",
      yaml: route("    rate_limit:", "      - limit: 5", "        window: 1m", "        per: token", "        burst: 3"),
      expected: ["endpoint.yaml:10:9: unknown key 'burst' in route 'a': rate_limit.0 [unknown-key]"],
    },
  ];
  for (const { name, yaml, expected } of SCHEMA_CASES)
    test(`${name} is reported at the key, with what is wrong`, async () => {
      expect(await findings(yaml)).toEqual(expected);
    });
});

describe("rate_limit resolves", () => {
  const SERVER = "  rate_limit: { limit: 40, window: 7d, per: address }";

  test("a list of two: each policy, named <per>-<seconds>s unless named", async () => {
    const config = await load(route("    rate_limit:", "      - { limit: 100, window: 1m, per: token }", "      - { limit: 1000, window: 1h, per: route, name: everyone }"));
    expect(config.routes[0]!.rateLimits).toEqual([
      { name: "token-60s", limit: 100, windowSeconds: 60, per: "token" },
      { name: "everyone", limit: 1000, windowSeconds: 3600, per: "route" },
    ]);
    expect(config.server.rateLimits).toEqual([]);
  });

  test("one mapping: one policy; a whole number window is seconds", async () => {
    const config = await load(route("    rate_limit: { limit: 3, window: 90, per: user }"));
    expect(config.routes[0]!.rateLimits).toEqual([{ name: "user-90s", limit: 3, windowSeconds: 90, per: "user" }]);
  });

  test("rate_limit: [] is none, even with server.rate_limit; without rate_limit a route inherits server.rate_limit", async () => {
    const yaml = lines(
      "server:",
      SERVER,
      "routes:",
      "  - { name: none, path: /none, handler: sample.list, public: true, rate_limit: [] }",
      "  - { name: inherits, path: /inherits, handler: sample.list, public: true }",
      "  - { name: own, path: /own, handler: sample.list, public: true, rate_limit: { limit: 5, window: 1d, per: address } }",
    );
    const config = await load(yaml);
    const serverLimit: RateLimitPolicy[] = [{ name: "address-604800s", limit: 40, windowSeconds: 604800, per: "address" }];
    expect(config.server.rateLimits).toEqual(serverLimit);
    const byName = Object.fromEntries(config.routes.map((r) => [r.name, r.rateLimits]));
    expect(byName).toEqual({ none: [], inherits: serverLimit, own: [{ name: "address-86400s", limit: 5, windowSeconds: 86400, per: "address" }] });
  });

  test("built-in routes get server.rate_limit, except the health probes /healthz and /readyz", async () => {
    const config = await load(lines("server:", SERVER, "routes:", "  - { name: a, path: /a, handler: sample.list, public: true, rate_limit: [] }"));
    const table = buildRouteTable(config, await loadHandlers(config, ROUTES), allBuiltinRoutes(config));
    const builtins = table.filter((r) => r.origin === "builtin");
    expect(builtins.length).toBeGreaterThan(10);
    for (const r of builtins) expect([r.name, r.rateLimits]).toEqual([r.name, ["healthz", "readyz"].includes(r.name) ? [] : config.server.rateLimits]);
    expect(builtins.filter((r) => r.rateLimits.length === 0).map((r) => r.path).sort()).toEqual(["/healthz", "/readyz"]);
    expect(table.find((r) => r.name === "a")!.rateLimits).toEqual([]);
  });

  test("without server.rate_limit nothing is limited", async () => {
    const config = await load(route());
    const table = buildRouteTable(config, await loadHandlers(config, ROUTES), allBuiltinRoutes(config));
    expect(table.filter((r) => r.rateLimits.length > 0).map((r) => r.name)).toEqual([]);
  });
});
