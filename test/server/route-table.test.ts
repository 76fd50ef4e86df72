// The route table: built-ins are plain data with rules from small helpers, and the paths endpoint.yaml may not use
// are exactly the built-ins' first segments.
import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import { RESERVED_PREFIXES } from "../../src/config/route-rules.ts";
import { allBuiltinRoutes } from "../../src/server/builtin/all.ts";
import { buildRouteTable, reservedPrefixes } from "../../src/server/route-table.ts";

describe("the route table", () => {
  test("validate's reserved paths are the built-ins' own first path segments", async () => {
    const loaded = await loadConfigText("routes: []\n", "endpoint.yaml");
    if (!loaded.ok) throw new Error("config");
    expect([...RESERVED_PREFIXES].sort()).toEqual(reservedPrefixes(allBuiltinRoutes(loaded.config)));
  });

  test("the built-ins can be listed without a database or any service, and every one has a rule naming it", async () => {
    const loaded = await loadConfigText("routes: []\n", "endpoint.yaml");
    if (!loaded.ok) throw new Error("config");
    const table = buildRouteTable(loaded.config, new Map(), allBuiltinRoutes(loaded.config));
    expect(table.length).toBeGreaterThan(40);
    for (const route of table) {
      expect(route.rule.route).toBe(route.name);
      expect(route.origin).toBe("builtin");
      expect(route.rule.public || route.rule.groups.length > 0).toBe(true);
    }
    expect(new Set(table.map((r) => r.name)).size).toBe(table.length);
  });
});
