// CORS over real Requests, on every backend: preflights answered by the route's rule alone, the headers an answer to
// a listed origin carries (and an unlisted one never does), the session cookie refused from other origins unless the
// rule has credentials: true — and then still the CSRF token — and validate's findings for bad `cors` keys.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadConfigText } from "../../src/config/load.ts";
import { formatFinding } from "../../src/config/findings.ts";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const APP = "https://app.example";
const EVIL = "https://other.example";
const preflight = (origin: string, method: string, headers = "authorization") => ({
  method: "OPTIONS",
  headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
});
const corsHeaders = (response: Response) => {
  const names: string[] = [];
  response.headers.forEach((_, name) => names.push(name));
  return names.filter((name) => name.startsWith("access-control-"));
};

for (const backend of testBackends()) {
  describe(`${backend.name}: CORS`, () => {
    let server: TestEndpoint;
    let token: string;
    let session: { cookie: string; csrfToken: string };
    beforeAll(async () => {
      server = await startTestEndpoint(backend, { configFile: join(FIXTURES, "cors.yaml"), routesDir: join(FIXTURES, "routes") });
      await server.addUser("ada");
      token = (await server.tokenFor("ada")).token;
      session = await server.signIn("ada");
    });
    afterAll(() => server.close());

    test("a preflight from a listed origin is answered by the rule, without the handler", async () => {
      const response = await server.request("/whoami", preflight(APP, "GET"));
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(APP);
      expect(response.headers.get("access-control-allow-methods")).toBe("GET");
      expect(response.headers.get("access-control-allow-headers")).toBe("Authorization");
      expect(response.headers.get("access-control-max-age")).toBe("300");
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
      expect(response.headers.get("vary")).toBe("Origin");
      expect(await response.text()).toBe("");
    });

    test("the original finding: OPTIONS /whoami from another origin is no 405, and gets no CORS headers", async () => {
      const response = await server.request("/whoami", preflight(EVIL, "GET"));
      expect(response.status).toBe(403);
      expect(corsHeaders(response)).toEqual([]);
      expect(response.headers.get("vary")).toBe("Origin");
    });

    test("a preflight for a method the rule does not allow gets no CORS headers", async () => {
      const response = await server.request("/whoami", preflight(APP, "DELETE"));
      expect(response.status).toBe(403);
      expect(corsHeaders(response)).toEqual([]);
    });

    test("a path without a CORS rule answers OPTIONS as before: 405, no CORS headers", async () => {
      const response = await server.request("/healthz", preflight(APP, "GET"));
      expect(response.status).toBe(405);
      expect(corsHeaders(response)).toEqual([]);
      // Not a preflight (no Origin): 405 on a path with a rule too.
      expect((await server.request("/whoami", { method: "OPTIONS" })).status).toBe(405);
    });

    test("credentials: true answers with the origin itself and Allow-Credentials", async () => {
      const response = await server.request("/shared/echo", preflight(APP, "POST", "content-type, x-csrf-token"));
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(APP);
      expect(response.headers.get("access-control-allow-credentials")).toBe("true");
      expect(response.headers.get("access-control-allow-headers")).toBe("Content-Type, X-CSRF-Token");
      expect(response.headers.get("access-control-max-age")).toBe("600");
    });

    test("a token call from a listed origin gets Allow-Origin and Vary; from an unlisted one none", async () => {
      const listed = await server.request("/whoami", { token, headers: { origin: APP } });
      expect(listed.status).toBe(200);
      expect((await listed.json()).username).toBe("ada");
      expect(listed.headers.get("access-control-allow-origin")).toBe(APP);
      // A page may read the request id, why it was refused, and how much of a rate limit is left.
      expect(listed.headers.get("access-control-expose-headers")).toBe("X-Request-Id, WWW-Authenticate, Retry-After, RateLimit, RateLimit-Policy");
      expect(listed.headers.get("access-control-allow-credentials")).toBeNull();
      expect(listed.headers.get("vary")).toBe("Origin");
      const unlisted = await server.request("/whoami", { token, headers: { origin: EVIL } });
      expect(corsHeaders(unlisted)).toEqual([]);
      expect(unlisted.headers.get("vary")).toBe("Origin");
      // Refusals from a listed origin carry the headers too, so the page can read why.
      const refused = await server.request("/whoami", { headers: { origin: APP } });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    });

    test("server.cors is the default for routes without their own; '*' answers '*'; built-in routes have none", async () => {
      const byDefault = await server.request("/markup", { headers: { origin: "https://default.example" } });
      expect(byDefault.headers.get("access-control-allow-origin")).toBe("https://default.example");
      expect(corsHeaders(await server.request("/markup", { headers: { origin: APP } }))).toEqual([]);
      const open = await server.request("/open/echo", { method: "POST", headers: { origin: EVIL, "content-type": "application/json" }, body: '{"name":"x"}' });
      expect(open.status).toBe(200);
      expect(open.headers.get("access-control-allow-origin")).toBe("*");
      const builtin = await server.request("/healthz", { headers: { origin: APP } });
      expect(corsHeaders(builtin)).toEqual([]);
      expect(builtin.headers.get("vary")).toBeNull();
    });

    test("a session cookie from another origin is ignored unless the rule has credentials: true and lists it", async () => {
      // Our own origin (or none): the cookie counts.
      expect((await server.request("/whoami", { cookie: session.cookie })).status).toBe(200);
      expect((await server.request("/whoami", { cookie: session.cookie, headers: { origin: server.origin } })).status).toBe(200);
      // Listed, but credentials is false: as if no cookie was sent.
      expect((await server.request("/whoami", { cookie: session.cookie, headers: { origin: APP } })).status).toBe(401);
      // credentials: true and listed: the cookie counts, and the page may read the answer.
      const shared = await server.request("/shared/whoami", { cookie: session.cookie, headers: { origin: APP } });
      expect(shared.status).toBe(200);
      expect(shared.headers.get("access-control-allow-credentials")).toBe("true");
      // credentials: true but not listed: ignored.
      const unlisted = await server.request("/shared/whoami", { cookie: session.cookie, headers: { origin: EVIL } });
      expect(unlisted.status).toBe(401);
      expect(corsHeaders(unlisted)).toEqual([]);
    });

    test("a cross-origin change with the cookie still needs the CSRF token header", async () => {
      const post = (origin: string, headers: Record<string, string> = {}) =>
        server.request("/shared/echo", { method: "POST", cookie: session.cookie, headers: { origin, "content-type": "application/json", ...headers }, body: '{"name":"x"}' });
      const noToken = await post(APP);
      expect(noToken.status).toBe(403);
      expect((await noToken.json()).code).toBe("csrf_failed");
      expect((await post(APP, { "x-csrf-token": "wrong" })).status).toBe(403);
      const good = await post(APP, { "x-csrf-token": session.csrfToken });
      expect(good.status).toBe(200);
      expect(good.headers.get("access-control-allow-origin")).toBe(APP);
      // An unlisted origin with the right token: the cookie is not even read.
      expect((await post(EVIL, { "x-csrf-token": session.csrfToken })).status).toBe(401);
    });
  });
}

describe("validate: cors keys", () => {
  const ROUTES = join(import.meta.dir, "../config/fixtures/routes");
  const lines = (...text: string[]) => `${text.join("\n")}\n`;
  const route = (...cors: string[]) => lines("routes:", "  - name: a", "    path: /a", "    handler: sample.list", "    public: true", "    cors:", ...cors);
  const findings = async (yaml: string) => {
    const result = await loadConfigText(yaml, "endpoint.yaml", { routesDir: ROUTES, env: {} });
    return result.findings.map(formatFinding);
  };
  const CASES: Array<{ name: string; yaml: string; expected: string[] }> = [
    {
      name: "'*' with credentials on a route",
      yaml: route("      origins: [https://app.example, '*']", "      credentials: true"),
      expected: ["endpoint.yaml:7:38: route 'a': cors.origins must list exact origins when credentials is true ('*' would let any site act with a visitor's session) [bad-value]"],
    },
    {
      name: "'*' with credentials as the default",
      yaml: lines("server:", "  cors:", "    origins: ['*']", "    credentials: true", "routes: []"),
      expected: ["endpoint.yaml:3:15: server.cors.origins must list exact origins when credentials is true ('*' would let any site act with a visitor's session) [bad-value]"],
    },
    {
      name: "an origin that is no origin, and null",
      yaml: route("      origins: [app.example, 'null', https://app.example/path]"),
      expected: [
        "endpoint.yaml:7:17: route 'a': cors.origins.0 must be an origin with no path, e.g. https://app.example or http://localhost:3000, or '*' (got 'app.example') [bad-value]",
        "endpoint.yaml:7:30: route 'a': cors.origins.1 must be an origin with no path, e.g. https://app.example or http://localhost:3000, or '*' (got 'null') [bad-value]",
        "endpoint.yaml:7:38: route 'a': cors.origins.2 must be an origin with no path, e.g. https://app.example or http://localhost:3000, or '*' (got 'https://app.example/path') [bad-value]",
      ],
    },
    {
      name: "a misspelt key, a bad method and a bad max_age",
      yaml: route("      origins: [https://app.example]", "      methods: [GET, OPTIONS]", "      max_age: 10 minutes", "      credential: true"),
      expected: [
        "endpoint.yaml:8:22: route 'a': cors.methods.1 must be one of GET, POST, PUT, PATCH, DELETE (got 'OPTIONS') [bad-value]",
        // The message every duration gets when its text is unreadable (shutdown_grace, idle_timeout…).
        "endpoint.yaml:9:16: route 'a': cors.max_age must be text or a whole number [wrong-type]",
        "endpoint.yaml:10:7: unknown key 'credential' in route 'a': cors; did you mean 'credentials'? [unknown-key]",
      ],
    },
    { name: "origins missing", yaml: route("      methods: [GET]"), expected: ["endpoint.yaml:7:7: route 'a': cors is missing key 'origins' [missing-key]"] },
  ];
  for (const { name, yaml, expected } of CASES)
    test(name, async () => {
      expect(await findings(yaml)).toEqual(expected);
    });

  test("good keys load: durations, the route's own rule over server.cors, defaults", async () => {
    const yaml = lines(
      "server:",
      "  cors: { origins: [https://default.example], max_age: 1h }",
      "routes:",
      "  - { name: a, path: /a, handler: sample.list, public: true }",
      "  - { name: b, method: POST, path: /b, handler: sample.list, public: true, cors: { origins: ['http://localhost:3000'], credentials: true, max_age: 30 } }",
    );
    const result = await loadConfigText(yaml, "endpoint.yaml", { routesDir: ROUTES, env: {} });
    if (!result.ok) throw new Error(result.findings.map(formatFinding).join("\n"));
    expect(result.config.routes[0]!.cors).toEqual({ origins: ["https://default.example"], methods: ["GET"], headers: ["Authorization", "Content-Type"], maxAgeSeconds: 3600, credentials: false });
    expect(result.config.routes[1]!.cors).toEqual({ origins: ["http://localhost:3000"], methods: ["POST"], headers: ["Authorization", "Content-Type"], maxAgeSeconds: 30, credentials: true });
  });
});
