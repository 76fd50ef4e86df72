// The handler API route authors use, from `import … from "endpoint"`: created() answers 201 with a Location,
// declared response schemas are checked in development (and only there), and reach the OpenAPI document.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const FIXTURES = join(import.meta.dir, "fixtures");

for (const backend of testBackends()) {
  describe(`${backend.name}: the handler API`, () => {
    let server: TestEndpoint;
    beforeAll(async () => {
      server = await startTestEndpoint(backend, { configFile: join(FIXTURES, "endpoint.yaml"), routesDir: join(FIXTURES, "routes") });
    });
    afterAll(() => server.close());

    test("created(body, location) answers 201 with the JSON body, a Location and the usual headers", async () => {
      const answer = await server.request("/make", {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "trace-make-1" },
        body: JSON.stringify({ name: "box" }),
      });
      expect(answer.status).toBe(201);
      expect(answer.headers.get("location")).toBe("/items/7");
      expect(answer.headers.get("content-type")).toBe("application/json; charset=utf-8");
      // The caller's request id comes back on a created() answer, as on every other.
      expect(answer.headers.get("x-request-id")).toBe("trace-make-1");
      expect(await answer.json()).toEqual({ id: 7, name: "box" });
    });

    test("an answer that breaks its declared response schema is a 500 in development, with the cause in the log only", async () => {
      const answer = await server.request("/misdescribed");
      expect(answer.status).toBe(500);
      const body = await answer.text();
      expect(body).not.toContain("three");
      expect(body).not.toContain("count");
      expect(server.logLines.some((line) => line.includes("unhandled_error") && line.includes("misdescribed") && line.includes("/count"))).toBe(true);
    });

    test("declared response schemas are in the OpenAPI document", async () => {
      const document = await (await server.request("/api/openapi.json")).json();
      // "x-status": 201 on the schema: the document says what created() answers.
      expect(document.paths["/make"].post.responses["201"].content["application/json"].schema).toMatchObject({ type: "object", required: ["id", "name"] });
      expect(document.paths["/make"].post.responses["201"].content["application/json"].schema["x-status"]).toBeUndefined();
      expect(document.paths["/echo"].post.responses["200"]).toEqual({ description: "Success" });
    });
  });
}

describe("response checks in production", () => {
  test("production answers as the handler said, without checking the schema", async () => {
    const [backend] = testBackends();
    const server = await startTestEndpoint(backend!, { configFile: join(FIXTURES, "endpoint.yaml"), routesDir: join(FIXTURES, "routes"), mode: "production" });
    try {
      const answer = await server.request("/misdescribed");
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ count: "three" });
    } finally {
      await server.close();
    }
  });
});
