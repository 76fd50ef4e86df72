// The server over real Requests: answers, errors and protective headers, on every backend.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Elysia } from "elysia";
import { assertEveryRouteGuarded } from "../../src/server/app.ts";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const INTERNALS = /postgres|relation|no_such_table|violates|node_modules|\sat\s\/|\.ts:\d+|select /i;

for (const backend of testBackends()) {
  describe(`${backend.name}: answers and errors`, () => {
    let server: TestEndpoint;
    beforeAll(async () => {
      server = await startTestEndpoint(backend, { configFile: join(FIXTURES, "endpoint.yaml"), routesDir: join(FIXTURES, "routes") });
      await server.addUser("joe", ["users"]);
      await server.addUser("olga", ["ops"]);
      await server.addUser("hook", ["services"]);
    });
    afterAll(() => server.close());

    test("a JSON route answers JSON with a request id and the protective headers", async () => {
      const response = await server.request("/echo", json({ name: "joe", count: 2 }));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(response.headers.get("x-request-id")).toMatch(/^[a-z0-9]+-[a-z0-9]+$/);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("same-origin");
      expect(await response.json()).toEqual({ received: { name: "joe", count: 2 }, polluted: null });
    });

    test("a plain X-Request-Id is kept; a hostile one is replaced", async () => {
      const kept = await server.request("/echo", { ...json({ name: "a" }), headers: { "content-type": "application/json", "x-request-id": "trace-42" } });
      expect(kept.headers.get("x-request-id")).toBe("trace-42");
      const replaced = await server.request("/echo", { ...json({ name: "a" }), headers: { "content-type": "application/json", "x-request-id": "a\"><script>" } });
      expect(replaced.headers.get("x-request-id")).not.toContain("<");
    });

    test("a string that looks like markup is still JSON, never sniffed as HTML", async () => {
      const response = await server.request("/markup");
      expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(await response.json()).toBe("<b>x</b>");
    });

    const problems: Array<{ what: string; path: string; init?: RequestInit; status: number; code: string }> = [
      { what: "malformed JSON", path: "/echo", init: { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":' }, status: 400, code: "malformed_body" },
      { what: "an empty JSON body", path: "/echo", init: { method: "POST", headers: { "content-type": "application/json" }, body: "" }, status: 400, code: "malformed_body" },
      { what: "a text/plain body (a cross-site form can send one)", path: "/echo", init: { method: "POST", headers: { "content-type": "text/plain" }, body: '{"name":"x"}' }, status: 415, code: "unsupported_media_type" },
      { what: "a urlencoded body on a JSON route", path: "/echo", init: { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "name=x" }, status: 415, code: "unsupported_media_type" },
      { what: "application/xml", path: "/echo", init: { method: "POST", headers: { "content-type": "application/xml" }, body: "<name/>" }, status: 415, code: "unsupported_media_type" },
      { what: "a body over the limit", path: "/echo", init: json({ name: "x".repeat(5000) }), status: 413, code: "body_too_large" },
      { what: "an unknown field", path: "/echo", init: json({ name: "x", admin: true }), status: 422, code: "invalid_input" },
      { what: "a NUL in a string", path: "/echo", init: json({ name: "a\u0000b" }), status: 422, code: "invalid_input" },
      { what: "a path parameter that is not a number", path: "/items/abc", status: 422, code: "invalid_input" },
      { what: "a path parameter too large for the database", path: "/items/99999999999999999999", status: 422, code: "invalid_input" },
      { what: "a query parameter given twice", path: "/items/1?verbose=true&verbose=false", status: 422, code: "invalid_input" },
      { what: "an unknown path", path: "/nowhere", status: 404, code: "not_found" },
      { what: "the wrong method", path: "/items/1", init: { method: "DELETE" }, status: 405, code: "method_not_allowed" },
    ];
    for (const p of problems)
      test(`${p.what} → ${p.status} problem+json`, async () => {
        const response = await server.request(p.path, p.init);
        expect(response.status).toBe(p.status);
        expect(response.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
        const body = await response.json();
        expect(body).toMatchObject({ type: `https://endpoint.dev/problems/${p.code}`, status: p.status, code: p.code });
        expect(typeof body.title).toBe("string");
        expect(typeof body.detail).toBe("string");
        expect(body.request_id).toBe(response.headers.get("x-request-id"));
      });

    test("with server.openapi: public, anyone may read the API document", async () => {
      const response = await server.request("/api/openapi.json");
      expect(response.status).toBe(200);
      expect(Object.keys((await response.json()).paths)).toContain("/echo");
    });

    test("405 says which methods the path answers", async () => {
      const response = await server.request("/items/1", { method: "POST" });
      expect(response.headers.get("allow")).toBe("GET");
    });

    test("validation errors name each field and rule, never the value sent", async () => {
      const response = await server.request("/echo", json({ name: 12345, count: "hunter2hunter2" }));
      expect(response.status).toBe(422);
      const body = await response.json();
      expect(body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(["/body/name", "/body/count"]));
      expect(JSON.stringify(body)).not.toContain("hunter2");
      expect(JSON.stringify(body)).not.toContain("12345");
    });

    test("path and query values are typed by their schemas", async () => {
      const response = await server.request("/items/7?verbose=true");
      expect(await response.json()).toEqual({ id: 7, verbose: true });
    });

    test("__proto__ in a body pollutes nothing", async () => {
      const response = await server.request("/echo", { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"x","__proto__":{"polluted":1}}' });
      expect(response.status).toBe(422); // an unknown field
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    test("an unexpected failure is a 500 with a request id and nothing of the cause; the log has the cause", async () => {
      const response = await server.request("/explode");
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(text).not.toMatch(INTERNALS);
      const id = response.headers.get("x-request-id")!;
      expect(JSON.parse(text).detail).toContain(id);
      const logged = server.logLines.map((l) => JSON.parse(l)).find((l) => l.event === "unhandled_error" && l.request_id === id);
      expect(logged.error).toContain("no_such_table");
    });

    test("a browser gets errors as an HTML page with a CSP and the path escaped", async () => {
      const response = await server.request("/<script>alert(1)</script>", { headers: { accept: "text/html,application/xhtml+xml" } });
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(response.headers.get("content-security-policy")).not.toContain("unsafe-inline");
      expect(await response.text()).not.toContain("<script>alert(1)");
    });

    test("one log line per request with method, path, route, status, duration, request id and principal", async () => {
      const response = await server.request("/items/3?secret=hidden");
      const id = response.headers.get("x-request-id");
      await Bun.sleep(20); // the access log is written after the answer is sent
      const line = server.logLines.map((l) => JSON.parse(l)).find((l) => l.event === "request" && l.request_id === id);
      expect(line).toMatchObject({ method: "GET", path: "/items/3", route: "item", status: 422, principal: null });
      expect(typeof line.duration_ms).toBe("number");
      expect(JSON.stringify(line)).not.toContain("hidden");
    });
  });

  describe(`${backend.name}: the guard on every route`, () => {
    let server: TestEndpoint;
    beforeAll(async () => {
      server = await startTestEndpoint(backend);
    });
    afterAll(() => server.close());

    test("every mounted route denies an anonymous caller unless it is declared public", async () => {
      const table = server.endpoint.table;
      const mounted = server.endpoint.app.routes.map((r) => `${r.method} ${r.path}`);
      expect(mounted.sort()).toEqual(table.map((e) => `${e.method} ${e.path}`).sort());
      for (const entry of table) {
        const path = entry.path.replace(/:[^/]+/g, "1");
        const response = await server.request(path, {
          method: entry.method,
          headers: { "content-type": "application/json", origin: server.origin },
          body: entry.method === "GET" ? undefined : "{}",
        });
        if (entry.rule.public) expect({ route: entry.name, status: response.status }).not.toEqual({ route: entry.name, status: 401 });
        else expect({ route: entry.name, status: response.status }).toEqual({ route: entry.name, status: 401 });
      }
    });

    test("the start-up self-test refuses a route mounted outside the table", () => {
      const app = new Elysia().get("/sneaky", () => "no guard here");
      expect(() => assertEveryRouteGuarded(app, server.endpoint.table)).toThrow("refusing to start: routes mounted outside the guarded route table: GET /sneaky");
    });

    const tricks = ["/events/", "/EVENTS", "//events", "/events/.", "/%65vents", "/events%2F", "/events;x"];
    for (const path of tricks)
      test(`${path} does not get past the guard`, async () => {
        const response = await server.request(path, { headers: { accept: "application/json" } });
        expect([401, 404]).toContain(response.status);
      });

    test("HEAD and OPTIONS on a guarded route give no content", async () => {
      for (const method of ["HEAD", "OPTIONS"]) {
        const response = await server.request("/events", { method });
        expect(response.status).not.toBe(200);
      }
    });
  });
}
