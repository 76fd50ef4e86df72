// The OpenAPI document as outside tools take it: Redocly lints it clean (redocly.yaml), openapi-typescript makes a
// typed client of it, and a small program using that client through openapi-fetch, with a bearer token, type-checks
// (no `never`, no `any`) and gets the answers it expects from a live server. Also what the document says: success
// statuses, problem+json errors, security per route, and only the routes the caller may call.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { t } from "elysia";
import { loadHandlers } from "../../src/config/handlers.ts";
import { loadConfigOrThrow } from "../../src/config/load.ts";
import { allBuiltinRoutes } from "../../src/server/builtin/all.ts";
import { openApiDocument } from "../../src/server/builtin/openapi.ts";
import { buildRouteTable } from "../../src/server/route-table.ts";
import { toOpenApiSchema } from "../../src/server/builtin/openapi-schema.ts";
import { testBackends } from "../support/backends.ts";
import { ROOT } from "../support/cli.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";
import { freePort } from "../support/server-process.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
/** The tools, as package.json's devDependencies install them. */
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

async function run(command: string[], cwd: string, env: Record<string, string> = {}) {
  if (command[0]!.startsWith(ROOT) && !existsSync(command[0]!)) throw new Error(`${command[0]} is missing: bun install puts it there (package.json devDependencies)`);
  const child = Bun.spawn(command, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, exitCode };
}

type Operation = { operationId: string; security: object[]; responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> };
type Document = { paths: Record<string, Record<string, Operation>>; components: { responses: Record<string, { content: Record<string, { schema: unknown }> }> } };

/** A script a route author might write against the generated client; `tsc` must accept it as it is. */
const CLIENT_PROGRAM = `
import createClient from "openapi-fetch";
import type { paths } from "./api";

type IsNever<T> = [T] extends [never] ? true : false;
type IsAny<T> = 0 extends 1 & T ? true : false;
type Untyped<T> = IsNever<NonNullable<T>> extends true ? true : IsAny<T>;

// The test passes the server's address and a token in the environment (typed here: the program needs no runtime types).
declare const process: { env: Record<string, string | undefined> };

const client = createClient<paths>({ baseUrl: process.env.BASE_URL!, headers: { Authorization: \`Bearer \${process.env.TOKEN!}\` } });

const whoami = await client.GET("/whoami");
const users = await client.GET("/api/users", { params: { query: { search: "root", per_page: 10 } } });
const group = await client.POST("/api/groups", { body: { name: "made-by-client", description: "Made through openapi-fetch" } });
const event = await client.POST("/hooks/events", { body: { kind: "client.test", payload: { from: "openapi-fetch" } } });
const missing = await client.GET("/api/users/{username}", { params: { path: { username: "nobody" } } });
if (!whoami.data || !users.data || !group.data || !event.data) throw new Error("a call failed: " + JSON.stringify([whoami.error, users.error, group.error, event.error]));

// Every success answer has its declared type: not never (no response declared), not any.
const untyped: [Untyped<typeof whoami.data>, Untyped<typeof users.data>, Untyped<typeof group.data>, Untyped<typeof event.data>] = [false, false, false, false];
const username: string = whoami.data.username;
const via: "session" | "token" = whoami.data.via;
const listed: string[] = users.data.items.map((user) => user.username);
const total: number = users.data.total;
const groupName: string = group.data.name;
const eventId: string = event.data.id;
// Errors are typed too: the shared Problem schema.
const missingCode: string | undefined = missing.error?.code;

console.log(JSON.stringify({
  statuses: [whoami.response.status, users.response.status, group.response.status, event.response.status, missing.response.status],
  untyped, username, via, listed, total, groupName, eventId, missingCode,
}));
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ESNext",
    module: "Preserve",
    moduleResolution: "bundler",
    lib: ["ESNext", "DOM"],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  },
  files: ["client.ts"],
};

for (const backend of testBackends()) {
  describe(`${backend.name}: the OpenAPI document in outside tools`, () => {
    let server: TestEndpoint;
    let listener: ReturnType<typeof Bun.serve>;
    let baseUrl: string;
    let rootToken: string;
    let dir: string;

    beforeAll(async () => {
      const port = freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      // public_url is where the server listens, so the document's servers[0] is an address clients can use.
      server = await startTestEndpoint(backend, { env: { PUBLIC_URL: baseUrl } });
      listener = Bun.serve({ hostname: "127.0.0.1", port, fetch: (request) => server.endpoint.app.handle(request) });
      await server.addUser("root", ["admin", "services"]);
      await server.addUser("joe", ["users"]);
      rootToken = (await server.tokenFor("root")).token;
      dir = mkdtempSync(join(tmpdir(), "endpoint-openapi-"));
      // The program imports openapi-fetch as installed in this project.
      symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    });
    afterAll(async () => {
      listener?.stop(true);
      await server?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const served = async (token: string) => {
      const response = await fetch(`${baseUrl}/api/openapi.json`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      return (await response.json()) as Document;
    };

    test("redocly lint finds no error and no warning in the served document nor in the whole table's", async () => {
      writeFileSync(join(dir, "served.json"), JSON.stringify(await served(rootToken), null, 2));
      writeFileSync(join(dir, "whole.json"), JSON.stringify(openApiDocument(server.config, server.endpoint.table), null, 2));
      for (const file of ["served.json", "whole.json"]) {
        const lint = await run([bin("redocly"), "lint", "--config", join(ROOT, "redocly.yaml"), "--format=json", file], dir, { REDOCLY_TELEMETRY: "off" });
        const report = JSON.parse(lint.stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string }> };
        expect(report.problems.map((problem) => `${file}: ${problem.ruleId}: ${problem.message}`)).toEqual([]);
        expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
        expect(lint.exitCode).toBe(0);
      }
    });

    test("a client generated by openapi-typescript type-checks with tsc and calls the live server with a bearer token", async () => {
      writeFileSync(join(dir, "openapi.json"), JSON.stringify(await served(rootToken), null, 2));
      const generate = await run([bin("openapi-typescript"), "openapi.json", "--output", "api.d.ts"], dir);
      expect(generate.exitCode, generate.stderr).toBe(0);
      writeFileSync(join(dir, "client.ts"), CLIENT_PROGRAM);
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
      const typecheck = await run([bin("tsc"), "--project", "tsconfig.json"], dir);
      expect(typecheck.stdout + typecheck.stderr).toBe("");
      expect(typecheck.exitCode).toBe(0);

      const program = await run(["bun", "client.ts"], dir, { BASE_URL: baseUrl, TOKEN: rootToken });
      expect(program.exitCode, program.stderr).toBe(0);
      const answers = JSON.parse(program.stdout);
      expect(answers).toMatchObject({
        statuses: [200, 200, 201, 201, 404],
        untyped: [false, false, false, false],
        username: "root",
        via: "token",
        listed: ["root"],
        total: 1,
        groupName: "made-by-client",
        missingCode: "user_not_found",
      });
      expect(await server.database.db.selectFrom("events").select("kind").where("id", "=", answers.eventId).executeTakeFirst()).toEqual({ kind: "client.test" });
    });

    test("creating routes document 201, empty answers 204, and every error answer is problem+json", () => {
      const document = openApiDocument(server.config, server.endpoint.table) as Document;
      expect(Object.keys(document.paths["/api/users"]!.post!.responses)).toContain("201");
      expect(Object.keys(document.paths["/hooks/events"]!.post!.responses)).toContain("201");
      expect(Object.keys(document.paths["/api/users/{username}"]!.delete!.responses)).toContain("204");
      expect(document.paths["/api/users/{username}"]!.delete!.responses["204"]!.content).toBeUndefined();
      for (const operation of Object.values(document.paths).flatMap((methods) => Object.values(methods))) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (status !== "default" && Number(status) < 400) continue;
          const content = response.$ref ? document.components.responses[response.$ref.split("/").pop()!]!.content : response.content!;
          expect(Object.keys(content)).toEqual(["application/problem+json"]);
        }
      }
      const guarded = document.paths["/api/users/{username}"]!.get!.responses;
      expect(Object.keys(guarded)).toEqual(expect.arrayContaining(["400", "401", "403", "404", "422", "503", "default"]));
      expect(Object.keys(document.paths["/api/groups"]!.post!.responses)).toContain("409");
      expect(Object.keys(document.paths["/status"]!.get!.responses)).not.toContain("401");
    });

    test("each operation names the credentials its route accepts", () => {
      const document = openApiDocument(server.config, server.endpoint.table) as Document;
      expect(document.paths["/hooks/events"]!.post!.security).toEqual([{ bearerToken: [] }]);
      expect(document.paths["/events"]!.get!.security).toEqual([{ sessionCookie: [] }]);
      expect(document.paths["/whoami"]!.get!.security).toEqual([{ sessionCookie: [] }, { bearerToken: [] }]);
      expect(document.paths["/status"]!.get!.security).toEqual([]);
      const operations = Object.values(document.paths).flatMap((methods) => Object.keys(methods));
      expect(operations.length).toBe(server.endpoint.table.length);
    });

    test("with server.openapi: authenticated, a token limited to some routes sees only those and the public ones", async () => {
      const limited = (await server.tokenFor("root", { routes: ["whoami", "api-openapi"] })).token;
      const document = await served(limited);
      const names = Object.values(document.paths).flatMap((methods) => Object.values(methods).map((operation) => operation.operationId));
      const publicNames = server.endpoint.table.filter((route) => route.rule.public).map((route) => route.name);
      expect(names.sort()).toEqual([...publicNames, "whoami", "api-openapi"].sort());
      const joes = await served((await server.tokenFor("joe")).token);
      expect(joes.paths["/hooks/events"]).toBeUndefined();
      expect(joes.paths["/api/users"]).toBeUndefined();
      expect(joes.paths["/whoami"]).toBeDefined();
    });
  });
}

describe("with server.openapi: public", () => {
  test("anyone, signed in or not, sees every route", async () => {
    const [backend] = testBackends();
    const server = await startTestEndpoint(backend!, { configFile: join(FIXTURES, "endpoint.yaml"), routesDir: join(FIXTURES, "routes") });
    try {
      const document = (await (await server.request("/api/openapi.json")).json()) as Document;
      const operations = Object.values(document.paths).flatMap((methods) => Object.keys(methods));
      expect(operations.length).toBe(server.endpoint.table.length);
      expect(document.paths["/profile"]!.get!.security).toEqual([{ sessionCookie: [] }]);
    } finally {
      await server.close();
    }
  });
});

describe("rate-limited routes (test/server/fixtures/rate-limits.yaml)", () => {
  type Limited = Operation & {
    "x-endpoint-rate-limit"?: unknown;
    responses: Record<string, { $ref?: string; headers?: Record<string, { $ref?: string }>; content?: Record<string, unknown> }>;
  };
  type LimitedDocument = {
    paths: Record<string, Record<string, Limited>>;
    components: { responses: Record<string, { headers?: Record<string, { $ref?: string; schema?: unknown }> }>; headers?: Record<string, { description: string; schema: unknown }> };
  };
  let document: LimitedDocument;
  let dir: string;
  beforeAll(async () => {
    const config = await loadConfigOrThrow(join(FIXTURES, "rate-limits.yaml"));
    document = openApiDocument(config, buildRouteTable(config, await loadHandlers(config), allBuiltinRoutes(config))) as LimitedDocument;
    dir = mkdtempSync(join(tmpdir(), "endpoint-openapi-limits-"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const RATE_HEADERS = { "RateLimit-Policy": { $ref: "#/components/headers/RateLimit-Policy" }, RateLimit: { $ref: "#/components/headers/RateLimit" } };

  test("a limited route documents 429, the RateLimit headers on its success answer and its limits", () => {
    const both = document.paths["/limited/both"]!.get!;
    expect(both.responses["429"]).toEqual({ $ref: "#/components/responses/TooManyRequests" });
    expect(both.responses["200"]!.headers).toEqual(RATE_HEADERS);
    expect(both["x-endpoint-rate-limit"]).toEqual([
      { name: "user-604800s", limit: 4, window_seconds: 604800, per: "user" },
      { name: "everyone", limit: 6, window_seconds: 604800, per: "route" },
    ]);
    expect(document.paths["/limited/short"]!.get!["x-endpoint-rate-limit"]).toEqual([{ name: "route-2s", limit: 2, window_seconds: 2, per: "route" }]);
    // A route without its own rate_limit, and a built-in, get server.rate_limit.
    const serverLimit = [{ name: "address-604800s", limit: 40, window_seconds: 604800, per: "address" }];
    expect(document.paths["/defaulted"]!.get!["x-endpoint-rate-limit"]).toEqual(serverLimit);
    expect(document.paths["/api/openapi.json"]!.get!["x-endpoint-rate-limit"]).toEqual(serverLimit);
    expect(document.paths["/api/openapi.json"]!.get!.responses["429"]).toBeDefined();
  });

  test("429 is problem+json with Retry-After and the RateLimit headers, which the components describe", () => {
    const tooMany = document.components.responses.TooManyRequests!;
    expect(tooMany).toMatchObject({ content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } });
    expect(tooMany.headers).toMatchObject({ "Retry-After": { schema: { type: "integer" } }, ...RATE_HEADERS });
    expect(Object.keys(document.components.headers ?? {}).sort()).toEqual(["RateLimit", "RateLimit-Policy"]);
    expect(document.components.headers!["RateLimit-Policy"]!.description).toContain('"token-60s";q=100;w=60');
    expect(document.components.headers!.RateLimit!.description).toContain('"token-60s";r=42;t=37');
  });

  test("an unlimited route, and the health probes, have no 429, no RateLimit headers and no x-endpoint-rate-limit", () => {
    for (const path of ["/unlimited", "/healthz", "/readyz"]) {
      const operation = document.paths[path]!.get!;
      expect(Object.keys(operation.responses)).not.toContain("429");
      expect(operation.responses["200"]!.headers).toBeUndefined();
      expect(operation["x-endpoint-rate-limit"]).toBeUndefined();
    }
  });

  test("redocly lint finds no error and no warning in it", async () => {
    writeFileSync(join(dir, "limited.json"), JSON.stringify(document, null, 2));
    const lint = await run([bin("redocly"), "lint", "--config", join(ROOT, "redocly.yaml"), "--format=json", "limited.json"], dir, { REDOCLY_TELEMETRY: "off" });
    const report = JSON.parse(lint.stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string }> };
    expect(report.problems.map((problem) => `${problem.ruleId}: ${problem.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(lint.exitCode).toBe(0);
  });

  test("with no rate limit anywhere, no route documents 429 and there are no header components", async () => {
    const config = await loadConfigOrThrow(join(FIXTURES, "endpoint.yaml"));
    const plain = openApiDocument(config, buildRouteTable(config, await loadHandlers(config), allBuiltinRoutes(config))) as LimitedDocument;
    for (const operation of Object.values(plain.paths).flatMap((methods) => Object.values(methods))) {
      expect(Object.keys(operation.responses)).not.toContain("429");
      expect(operation["x-endpoint-rate-limit"]).toBeUndefined();
    }
    expect(plain.components.responses.TooManyRequests).toBeUndefined();
    expect(plain.components.headers).toBeUndefined();
  });
});

describe("handler schemas in OpenAPI 3.0's words", () => {
  const cases = [
    { what: "a union of literals is an enum", schema: t.Union([t.Literal("a"), t.Literal("b")]), expected: { type: "string", enum: ["a", "b"] } },
    { what: "a record is additionalProperties", schema: t.Record(t.String(), t.Unknown()), expected: { type: "object", additionalProperties: {} } },
    { what: "a nullable Date is a nullable date-time string", schema: t.Nullable(t.Date()), expected: { type: "string", format: "date-time", nullable: true } },
    { what: "Elysia's coercing integer is an integer", schema: t.Integer({ minimum: 1 }), expected: { type: "integer", minimum: 1 } },
    { what: "a numeric exclusive bound is a bound and a flag", schema: t.Number({ exclusiveMinimum: 0 }), expected: { type: "number", minimum: 0, exclusiveMinimum: true } },
    { what: "a tuple's items are any of its members", schema: t.Tuple([t.String(), t.Number()]), expected: { type: "array", items: { anyOf: [{ type: "string" }, { type: "number" }] }, minItems: 2, maxItems: 2 } },
    { what: "x-status stays out of the schema", schema: t.Object({ a: t.Optional(t.String()) }, { "x-status": 201 }), expected: { type: "object", properties: { a: { type: "string" } } } },
  ];
  for (const { what, schema, expected } of cases) test(what, () => expect(toOpenApiSchema(schema)).toEqual(expected));
});
