// The guard's decisions, as a table: each (rule, principal) pair and the answer it must get.
import { describe, expect, test } from "bun:test";
import { type Rule, decide } from "../../src/auth/guard.ts";
import type { Principal } from "../../src/auth/principal.ts";

const rules: Record<string, Rule> = {
  status: { route: "status", public: true, groups: [], accepts: ["session", "token"] },
  whoami: { route: "whoami", public: false, groups: ["*"], accepts: ["session", "token"] },
  events: { route: "events", public: false, groups: ["users"], accepts: ["session"] },
  webhook: { route: "webhook", public: false, groups: ["services"], accepts: ["token"] },
  ops: { route: "ops", public: false, groups: ["ops", "admin"], accepts: ["session", "token"] },
};

const joeBySession: Principal = { id: "1", username: "joe", groups: ["users"], via: "session" };
const joeByToken: Principal = { ...joeBySession, via: "token", tokenId: "t1", tokenRoutes: null };
const hookService: Principal = { id: "2", username: "ci", groups: ["services"], via: "token", tokenId: "t2", tokenRoutes: null };
const scopedToWebhook: Principal = { ...hookService, groups: ["services", "ops"], tokenRoutes: ["webhook"] };
const admin: Principal = { id: "3", username: "root", groups: ["admin"], via: "session" };

const cases: Array<{ route: string; caller: string; who: Principal | null; outcome: "allow" | "unauthenticated" | "forbidden" }> = [
  { route: "status", caller: "no credentials", who: null, outcome: "allow" },
  { route: "whoami", caller: "no credentials", who: null, outcome: "unauthenticated" },
  { route: "whoami", caller: "joe by session", who: joeBySession, outcome: "allow" },
  { route: "whoami", caller: "joe by token", who: joeByToken, outcome: "allow" },
  { route: "events", caller: "joe by session", who: joeBySession, outcome: "allow" },
  { route: "events", caller: "joe by token (session-only route)", who: joeByToken, outcome: "unauthenticated" },
  { route: "events", caller: "admin not in users", who: admin, outcome: "forbidden" },
  { route: "webhook", caller: "service token", who: hookService, outcome: "allow" },
  { route: "webhook", caller: "joe by token, wrong group", who: joeByToken, outcome: "forbidden" },
  { route: "webhook", caller: "joe by session (token-only route)", who: joeBySession, outcome: "unauthenticated" },
  { route: "webhook", caller: "token scoped to this route", who: scopedToWebhook, outcome: "allow" },
  { route: "ops", caller: "token scoped elsewhere, though in the group", who: scopedToWebhook, outcome: "forbidden" },
  { route: "ops", caller: "admin, one of two groups", who: admin, outcome: "allow" },
  { route: "ops", caller: "no credentials", who: null, outcome: "unauthenticated" },
];

describe("the guard", () => {
  for (const c of cases)
    test(`${c.route} × ${c.caller} → ${c.outcome}`, () => {
      expect(decide(rules[c.route]!, c.who).outcome).toBe(c.outcome);
    });

  test("a refusal says which rule refused, for the log", () => {
    expect(decide(rules.events!, admin).because).toBe("not a member of any of: users");
    expect(decide(rules.ops!, scopedToWebhook).because).toBe("token is limited to routes webhook");
  });
});
