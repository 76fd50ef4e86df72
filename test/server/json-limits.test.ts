// JSON bodies are checked before they are parsed: nesting deeper than server.json_max_depth (default 32) is 422
// json_too_deep at once, however deep it goes, so a body of 30,000 brackets costs nothing and stalls nobody; a
// byte order mark is 400 json_bom; a key given twice in one object is 422 json_duplicate_key naming its path
// (JSON.parse keeps the last, a proxy in front may have read the first). Brackets, quotes and backslashes inside
// strings are data, not structure. Forms and requests without a JSON body are not touched by any of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { t } from "elysia";
import { loadConfigText } from "../../src/config/load.ts";
import { EndpointError } from "../../src/errors.ts";
import { readBody } from "../../src/server/input.ts";
import type { Route } from "../../src/server/route.ts";
import { testBackends } from "../support/backends.ts";
import { ROOT } from "../support/cli.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

/** `depth` arrays inside each other around `inner`: nested(2, "1") is `[[1]]`. */
const nested = (depth: number, inner = "1") => "[".repeat(depth) + inner + "]".repeat(depth);

describe("the scan before JSON.parse (readBody on its own)", () => {
  const anything = { validators: { body: TypeCompiler.Compile(t.Unknown()) } } as unknown as Route;
  const limits = { bodyLimitBytes: 1024 * 1024, jsonMaxDepth: 4 };
  const read = (body: string | Uint8Array, maxDepth = limits.jsonMaxDepth) =>
    readBody(anything, new Request("http://x/", { method: "POST", headers: { "content-type": "application/json" }, body: body as BodyInit }), { ...limits, jsonMaxDepth: maxDepth });
  /** The answer readBody gives: the value, or the refusal's status, code and field paths. */
  const outcome = async (body: string | Uint8Array, maxDepth?: number) => {
    try {
      return { value: await read(body, maxDepth) };
    } catch (error) {
      if (!(error instanceof EndpointError)) throw error;
      return { status: error.status, code: error.code, paths: error.fields?.map((f) => f.path) };
    }
  };
  const tooDeep = { status: 422, code: "json_too_deep", paths: ["/body"] };

  test("nesting up to the limit is read; one level more is refused, arrays and objects alike", async () => {
    expect(await outcome(nested(4))).toEqual({ value: [[[[1]]]] });
    expect(await outcome(nested(5))).toEqual(tooDeep);
    expect(await outcome('{"a":{"b":[{"c":1}]}}')).toEqual({ value: { a: { b: [{ c: 1 }] } } });
    expect(await outcome('{"a":{"b":[{"c":[]}]}}')).toEqual(tooDeep);
    // Siblings do not add up: depth is how far in, not how many.
    expect(await outcome(`[${Array(100).fill(nested(3)).join(",")}]`)).toMatchObject({ value: expect.any(Array) });
    expect(await outcome(nested(1), 1)).toEqual({ value: [1] });
    expect(await outcome(nested(2), 1)).toEqual(tooDeep);
  });

  test("too deep is refused even when the text is not JSON (nothing is parsed first)", async () => {
    expect(await outcome("[".repeat(30_000))).toEqual(tooDeep);
    expect(await outcome('{"a":'.repeat(30_000))).toEqual(tooDeep);
    expect(await outcome(`${nested(3)}]]]]`)).toEqual({ status: 400, code: "malformed_body", paths: undefined });
  });

  test("brackets, quotes and backslashes inside strings and keys are not structure", async () => {
    const tricky = ["[[[[[[[[", "{{{{{{{{", '"', '\\"[[[[', "\\", "]]]]}}}}", '\\\\"{', "\\u005b"];
    for (const text of tricky) {
      const body = JSON.stringify({ [text]: [text, { x: text }] });
      expect({ text, read: await outcome(body) }).toEqual({ text, read: { value: { [text]: [text, { x: text }] } } });
    }
    // A string that ends in an escaped backslash ends there: the bracket after it is structure again.
    expect(await outcome(String.raw`["a\\", [[[[1]]]]]`)).toEqual(tooDeep);
    expect(await outcome(String.raw`["a\\\"", [[[1]]]]`)).toEqual({ value: ['a\\"', [[[1]]]] });
  });

  test("any JSON within the limit reads back as JSON.parse reads it (300 random documents, strings full of JSON's own characters)", async () => {
    let seed = 13;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['"', "\\", "[", "]", "{", "}", ":", ",", "u", "0", "a", "é", "\n", "\u2028", "😀", " "];
    const text = () => Array.from({ length: random(8) }, () => alphabet[random(alphabet.length)]).join("");
    const value = (depth: number): unknown => {
      const kind = depth >= 4 ? random(3) : random(5);
      if (kind === 0) return text();
      if (kind === 1) return random(1000) - 500;
      if (kind === 2) return [true, false, null][random(3)];
      if (kind === 3) return Array.from({ length: random(4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: random(4) }, (_, i) => [`${text()}${i}`, value(depth + 1)]));
    };
    for (let n = 0; n < 300; n++) {
      const document = value(1);
      expect({ n, read: await outcome(JSON.stringify(document)) }).toEqual({ n, read: { value: document } });
    }
  });

  test("a key given twice in one object is refused with its path; the same key in two objects is not", async () => {
    const duplicate = (path: string) => ({ status: 422, code: "json_duplicate_key", paths: [path] });
    expect(await outcome('{"a":1,"a":2}')).toEqual(duplicate("/body/a"));
    expect(await outcome('{"a":{"b":1,"c":{"d":1},"b":2}}')).toEqual(duplicate("/body/a/b"));
    expect(await outcome('{"list":[{"x":1},{"x":1,"y":2,"x":3}]}')).toEqual(duplicate("/body/list/1/x"));
    expect(await outcome('[{"x":1},[0,{"k":1,"k":1}]]')).toEqual(duplicate("/body/1/1/k"));
    // The same key after JSON's escapes are read: "\u0061" is "a".
    expect(await outcome('{"a":1,"\\u0061":2}')).toEqual(duplicate("/body/a"));
    expect(await outcome('{"a\\\\":1,"a\\\\":2}')).toEqual(duplicate("/body/a?"));
    // Not duplicates: different objects, a key and a value alike, keys differing only after an escape.
    expect(await outcome('{"a":{"x":1},"b":{"x":1},"x":"x"}')).toEqual({ value: { a: { x: 1 }, b: { x: 1 }, x: "x" } });
    expect(await outcome('{"a":1,"\\"a":2,"a\\"":3}')).toEqual({ value: { a: 1, '"a': 2, 'a"': 3 } });
    expect(await outcome('[{"a":1},{"a":2}]')).toEqual({ value: [{ a: 1 }, { a: 2 }] });
    // Malformed text with a repeated key is malformed first.
    expect(await outcome('{"a":1,"a":2')).toEqual({ status: 400, code: "malformed_body", paths: undefined });
  });

  test("a byte order mark is 400 json_bom; bytes that are not UTF-8 are 400; a BOM-free body is read", async () => {
    const bytes = (...parts: Array<number[] | string>) => new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));
    expect(await outcome(bytes([0xef, 0xbb, 0xbf], '{"a":1}'))).toEqual({ status: 400, code: "json_bom", paths: undefined });
    expect(await outcome(bytes('{"a":"', [0xff, 0xfe], '"}'))).toEqual({ status: 400, code: "malformed_body", paths: undefined });
    expect(await outcome(bytes('{"a":"é"}'))).toEqual({ value: { a: "é" } });
    // U+FEFF inside a string is just a character.
    expect(await outcome(bytes('["', [0xef, 0xbb, 0xbf], '"]'))).toEqual({ value: ["\uFEFF"] });
  });

  test("NUL is refused as an escape in a value or a key, and an escaped backslash before 'u0000' is not NUL", async () => {
    const nul = { status: 422, code: "invalid_input", paths: ["/body"] };
    expect(await outcome('{"a":"x\\u0000"}')).toEqual(nul);
    expect(await outcome('{"\\u0000":1}')).toEqual(nul);
    expect(await outcome('{"a":"x\\\\u0000"}')).toEqual({ value: { a: "x\\u0000" } });
  });

  test("a body of 1 MiB of nesting is refused after the first few dozen characters (no stack, no parse)", async () => {
    const body = "[".repeat(512 * 1024) + "]".repeat(512 * 1024);
    expect(await outcome(body, 32)).toEqual(tooDeep);
  });
});

describe("server.json_max_depth in endpoint.yaml", () => {
  const config = (value: string) => loadConfigText(`server:\n  json_max_depth: ${value}\nroutes: []\n`, "endpoint.yaml", { routesDir: join(ROOT, "routes"), env: {} });
  test("defaults to 32, takes 1 to 512, refuses anything else", async () => {
    const none = await loadConfigText("routes: []\n", "endpoint.yaml", { routesDir: join(ROOT, "routes"), env: {} });
    expect(none.ok && none.config.server.jsonMaxDepth).toBe(32);
    for (const good of ["1", "64", "512"]) {
      const result = await config(good);
      expect({ good, depth: result.ok && result.config.server.jsonMaxDepth }).toEqual({ good, depth: Number(good) });
    }
    for (const bad of ["0", "513", "-1", "1.5", "deep"]) {
      const result = await config(bad);
      expect({ bad, ok: result.ok, codes: result.ok ? [] : result.findings.map((f) => f.code) }).toEqual({ bad, ok: false, codes: [expect.stringMatching(/bad-value|wrong-type/)] });
    }
  });
});

for (const backend of testBackends()) {
  describe(`${backend.name}: JSON bodies through the server`, () => {
    let server: TestEndpoint;
    let hookToken: string;
    let adminToken: string;
    let admin: { cookie: string; csrfToken: string };
    const unexpectedErrors = () => server.logLines.filter((line) => line.includes("unhandled_error"));
    const post = (path: string, body: BodyInit, token: string) =>
      server.request(path, { method: "POST", token, headers: { "content-type": "application/json" }, body });
    const answer = async (response: Response) => {
      const body = await response.json();
      return { status: response.status, code: body.code, type: response.headers.get("content-type")?.split(";")[0] };
    };
    const eventCount = async () => Number((await server.database.db.selectFrom("events").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
    /** The webhook's body with `payload` as written: its own object is depth 1, payload depth 2. */
    const event = (payload: string) => `{"kind":"deep","payload":${payload}}`;

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      await server.addUser("hook", ["services"]);
      hookToken = (await server.tokenFor("hook")).token;
      adminToken = (await server.tokenFor("root")).token;
      admin = await server.signIn("root");
    });
    afterAll(() => server.close());

    test("depth 32 (the default) is stored; depth 33 is 422 json_too_deep naming the limit, and nothing is stored", async () => {
      const before = await eventCount();
      const ok = await post("/hooks/events", event(`{"a":${nested(30)}}`), hookToken);
      expect(ok.status).toBe(201);
      const refused = await post("/hooks/events", event(`{"a":${nested(31)}}`), hookToken);
      const body = await refused.json();
      expect({ status: refused.status, code: body.code, errors: body.errors }).toEqual({
        status: 422,
        code: "json_too_deep",
        errors: [{ path: "/body", message: "nested more than 32 levels deep" }],
      });
      expect(body.detail).toContain("32");
      expect(body.detail).toContain("server.json_max_depth");
      expect(refused.headers.get("content-type")).toContain("application/problem+json");
      expect(await eventCount()).toBe(before + 1);
      expect(unexpectedErrors()).toEqual([]);
    });

    test("a 30,000-deep body is refused with 422, arrays or objects", async () => {
      for (const body of [event(nested(30_000)), event(`${'{"a":'.repeat(30_000)}1${"}".repeat(30_000)}`)])
        expect(await answer(await post("/hooks/events", body, hookToken))).toEqual({ status: 422, code: "json_too_deep", type: "application/problem+json" });
      expect(unexpectedErrors()).toEqual([]);
    });

    test("/healthz answers while three 90 KB nested bodies are in flight; each of them gets 422", async () => {
      const half = 45 * 1024;
      const encoder = new TextEncoder();
      const controllers: ReadableStreamDefaultController<Uint8Array>[] = [];
      const inFlight = [1, 2, 3].map(() => {
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encoder.encode(`{"kind":"deep","payload":{"a":${"[".repeat(half)}`));
            controllers.push(controller);
          },
        });
        return post("/hooks/events", stream, hookToken);
      });
      // The three bodies are half sent; the server must answer others meanwhile.
      const health = await server.request("/healthz");
      expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: expect.objectContaining({ status: "ok" }) });
      for (const controller of controllers) {
        controller.enqueue(encoder.encode(`1${"]".repeat(half)}}}`));
        controller.close();
      }
      const answers = await Promise.all(inFlight.map(async (response) => answer(await response)));
      expect(answers).toEqual(Array(3).fill({ status: 422, code: "json_too_deep", type: "application/problem+json" }));
      expect((await server.request("/healthz")).status).toBe(200);
      expect(unexpectedErrors()).toEqual([]);
    });

    test("a byte order mark before the JSON is 400 json_bom, and creates nothing", async () => {
      const body = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"name":"bom-group"}')]);
      expect(await answer(await post("/api/groups", body, adminToken))).toEqual({ status: 400, code: "json_bom", type: "application/problem+json" });
      expect((await server.request("/api/groups/bom-group", { token: adminToken })).status).toBe(404);
    });

    test("a key given twice is 422 json_duplicate_key naming the key, at the top level and nested; nothing is stored", async () => {
      const before = await eventCount();
      const top = await post("/api/groups", '{"name":"first","description":"x","name":"second"}', adminToken);
      const topBody = await top.json();
      expect({ status: top.status, code: topBody.code, errors: topBody.errors }).toEqual({
        status: 422,
        code: "json_duplicate_key",
        errors: [{ path: "/body/name", message: "given more than once" }],
      });
      expect(topBody.detail).toContain("/body/name");
      for (const name of ["first", "second"]) expect((await server.request(`/api/groups/${name}`, { token: adminToken })).status).toBe(404);

      const inner = await post("/hooks/events", event('{"list":[{"id":1},{"id":2,"id":3}]}'), hookToken);
      expect((await inner.json()).errors).toEqual([{ path: "/body/payload/list/1/id", message: "given more than once" }]);
      expect(inner.status).toBe(422);
      expect(await eventCount()).toBe(before);
    });

    test("strings holding brackets, braces and escaped quotes are stored as sent", async () => {
      const description = `${"[".repeat(40)} {"name":"x"} \\" ${"}".repeat(40)} \\\\ "`;
      const made = await post("/api/groups", JSON.stringify({ name: "brackets", description }), adminToken);
      expect(made.status).toBe(201);
      expect((await (await server.request("/api/groups/brackets", { token: adminToken })).json()).description).toBe(description);
      const payload = { '"[{': nested(40), "a\\": { '\\"': "]]]]" } };
      expect((await post("/hooks/events", JSON.stringify({ kind: "tricky", payload }), hookToken)).status).toBe(201);
      const stored = await server.database.db.selectFrom("events").select("payload").where("kind", "=", "tricky").executeTakeFirstOrThrow();
      expect(stored.payload).toEqual(payload);
    });

    test("forms are not JSON: deep brackets and repeated fields in a form are read as before", async () => {
      const description = `${"[".repeat(100)}{"a":1,"a":2}`;
      const response = await server.request("/admin/groups", {
        method: "POST",
        cookie: admin.cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams([
          ["_csrf", admin.csrfToken],
          ["name", "formgroup"],
          ["description", description],
          ["description", "the second is ignored, as before"],
        ]).toString(),
      });
      expect(response.status).toBeLessThan(400);
      const group = await (await server.request("/api/groups/formgroup", { token: adminToken })).json();
      expect(group.description).toBe(description);
      expect(unexpectedErrors()).toEqual([]);
    });
  });
}

describe("a lower json_max_depth in endpoint.yaml is what the server enforces", () => {
  const backend = testBackends()[0]!;
  let server: TestEndpoint;
  let hookToken: string;
  beforeAll(async () => {
    const yaml = (await Bun.file(join(ROOT, "endpoint.yaml")).text()).replace("  body_limit: 1mb\n", "  body_limit: 1mb\n  json_max_depth: 3\n");
    expect(yaml).toContain("json_max_depth: 3");
    const dir = mkdtempSync(join(tmpdir(), "endpoint-json-depth-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "endpoint.yaml");
    await Bun.write(file, yaml);
    server = await startTestEndpoint(backend, { configFile: file, routesDir: join(ROOT, "routes") });
    await server.addUser("hook", ["services"]);
    hookToken = (await server.tokenFor("hook")).token;
  });
  afterAll(() => server?.close());

  test("depth 3 is stored, depth 4 is refused naming 3", async () => {
    const post = (body: string) => server.request("/hooks/events", { method: "POST", token: hookToken, headers: { "content-type": "application/json" }, body });
    expect((await post('{"kind":"k","payload":{"a":[1]}}')).status).toBe(201);
    const refused = await post('{"kind":"k","payload":{"a":[[1]]}}');
    const body = await refused.json();
    expect({ status: refused.status, code: body.code, errors: body.errors }).toEqual({
      status: 422,
      code: "json_too_deep",
      errors: [{ path: "/body", message: "nested more than 3 levels deep" }],
    });
  });
});
