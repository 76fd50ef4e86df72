// schema/endpoint.schema.json, the editors' copy of the loader's schema, agrees with the loader: every YAML file in
// the repository passes both unless it is listed as deliberately broken (then both refuse it), and ${VAR} is
// accepted exactly where the loader substitutes it.
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";
import type { FindingCode } from "../../src/config/findings.ts";
import { interpolate } from "../../src/config/interpolate.ts";
import { loadConfig, loadConfigText } from "../../src/config/load.ts";
import { ROOT } from "../support/cli.ts";

const schema = JSON.parse(readFileSync(join(ROOT, "schema", "endpoint.schema.json"), "utf8"));
// Ajv's default class speaks draft-07; a 2020-12 schema would need ajv/dist/2020.
const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(schema);

/** YAML files that are broken on purpose: the schema error that shows it, and the loader's finding for the same fault. */
const DELIBERATELY_INVALID: Record<string, { instancePath: string; keyword: string; params: object; finding: FindingCode }> = {
  "test/config/fixtures/two-errors.yaml": { instancePath: "/routes/0", keyword: "additionalProperties", params: { additionalProperty: "methd" }, finding: "unknown-key" },
};

/** Folders .gitignore leaves out: dependencies, databases, test output and test scratch folders. */
const IGNORED = new Set([".git", "node_modules", "data", "test-output"]);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return IGNORED.has(entry.name) || entry.name.startsWith("tmp-") ? [] : yamlFiles(join(dir, entry.name));
    return /\.ya?ml$/.test(entry.name) ? [relative(ROOT, join(dir, entry.name))] : [];
  });
}

/** YAML files that are not Endpoint configs: other tools' settings. */
const NOT_ENDPOINT_CONFIGS = new Set(["redocly.yaml"]);

const files = yamlFiles(ROOT)
  .filter((file) => !NOT_ENDPOINT_CONFIGS.has(file))
  .sort();
const valid = files.filter((file) => !(file in DELIBERATELY_INVALID));
console.log(`json-schema.test.ts: checked ${files.length} YAML files against schema/endpoint.schema.json:\n  ${files.join("\n  ")}`);

const schemaErrors = (value: unknown) => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`));

describe("every YAML file in the repository", () => {
  test("is found: the shipped configs, the benchmark's and the test fixtures, and each deliberately broken one listed is there", () => {
    expect(files).toEqual(expect.arrayContaining(["endpoint.yaml", "bench/endpoint.yaml", "test/server/fixtures/endpoint.yaml", "test/server/fixtures/lifecycle.yaml"]));
    for (const file of Object.keys(DELIBERATELY_INVALID)) expect(files).toContain(file);
  });

  // A new YAML file lands here and must validate; one broken on purpose goes in DELIBERATELY_INVALID.
  for (const file of valid)
    test(`${file} passes the JSON Schema and the loader`, async () => {
      expect(schemaErrors(parse(readFileSync(join(ROOT, file), "utf8"), { version: "1.2" }))).toEqual([]);
      const loaded = await loadConfig(join(ROOT, file), { env: {}, checkHandlers: false });
      expect(loaded.ok ? [] : loaded.findings.map((f) => `${f.line}:${f.col} ${f.message}`)).toEqual([]);
    });

  for (const [file, expected] of Object.entries(DELIBERATELY_INVALID))
    test(`${file}, broken on purpose, fails the JSON Schema where the loader fails it`, async () => {
      expect(validate(parse(readFileSync(join(ROOT, file), "utf8"), { version: "1.2" }))).toBe(false);
      expect(validate.errors).toContainEqual(expect.objectContaining({ instancePath: expected.instancePath, keyword: expected.keyword, params: expected.params }));
      const loaded = await loadConfig(join(ROOT, file), { env: {}, checkHandlers: false });
      expect(loaded.ok ? [] : loaded.findings.map((f) => f.code)).toContain(expected.finding);
    });
});

describe("${VAR} in the JSON Schema", () => {
  // What the schema and the loader each say. They differ only where the schema cannot know the environment.
  const cases: Array<{ what: string; yaml: string; env?: Record<string, string>; schema: boolean; loader: boolean }> = [
    { what: "a port from the environment", yaml: "server:\n  port: ${PORT}", env: { PORT: "8001" }, schema: true, loader: true },
    { what: "a port with a default", yaml: "server:\n  port: ${PORT:-8000}", schema: true, loader: true },
    { what: "a port whose variable holds no number", yaml: "server:\n  port: ${PORT}", env: { PORT: "eighty" }, schema: true, loader: false },
    { what: "an escaped $${ is text, so no port", yaml: "server:\n  port: $${PORT}", schema: false, loader: false },
    { what: "a quoted number is text", yaml: 'server:\n  port: "8000"', schema: false, loader: false },
    { what: "a number of proxies", yaml: "server:\n  trusted_proxies: ${TRUSTED_PROXIES:-1}", schema: true, loader: true },
    { what: "a public URL with a default", yaml: "server:\n  public_url: ${PUBLIC_URL:-http://localhost:8000}", schema: true, loader: true },
    { what: "a variable inside a URL", yaml: "server:\n  public_url: https://${DOMAIN}", env: { DOMAIN: "endpoint.example" }, schema: true, loader: true },
    { what: "an escaped $${ is text, so none of the choices", yaml: "server:\n  openapi: $${OPENAPI}", schema: false, loader: false },
    { what: "one of a few choices", yaml: "server:\n  openapi: ${OPENAPI:-public}", schema: true, loader: true },
    { what: "a size", yaml: "server:\n  body_limit: ${BODY_LIMIT:-1mb}", schema: true, loader: true },
    { what: "a duration", yaml: "auth:\n  session:\n    idle_timeout: ${IDLE_TIMEOUT:-30m}", schema: true, loader: true },
    { what: "a switch or auto", yaml: "auth:\n  cookie:\n    secure: ${COOKIE_SECURE:-auto}", schema: true, loader: true },
    { what: "a group name", yaml: "auth:\n  admin_group: ${ADMIN_GROUP:-admin}", schema: true, loader: true },
    { what: "a mapping key, which is never substituted", yaml: "groups:\n  ${GROUP}:\n    description: Operators", env: { GROUP: "ops" }, schema: false, loader: false },
    { what: "a group name that is no name", yaml: "groups:\n  Ops Team:\n    description: Operators", schema: false, loader: false },
    { what: "text that is no number", yaml: "server:\n  port: eighty", schema: false, loader: false },
  ];
  const route = "routes:\n  - name: ${NAME:-status}\n    method: ${METHOD:-GET}\n    path: /status\n    handler: example.${EXPORT:-status}\n    public: ${PUBLIC:-true}\n";
  cases.push({ what: "every field of a route", yaml: route.trimEnd(), schema: true, loader: true });

  for (const { what, yaml, env = {}, schema: schemaSays, loader: loaderSays } of cases)
    test(`${what}: the schema says ${schemaSays ? "yes" : "no"}, the loader ${loaderSays ? "yes" : "no"}`, async () => {
      const text = yaml.startsWith("routes:") ? `${yaml}\n` : `${yaml}\nroutes: []\n`;
      expect(validate(parse(text, { version: "1.2" }))).toBe(schemaSays);
      expect((await loadConfigText(text, "endpoint.yaml", { env, checkHandlers: false })).ok).toBe(loaderSays);
    });

  test("its pattern matches exactly the text interpolate() substitutes", () => {
    const patterns = new Set<string>();
    JSON.stringify(schema, (key, value) => {
      if (key === "pattern" && typeof value === "string" && value.includes("\\$\\{")) patterns.add(value);
      return value;
    });
    expect(patterns.size).toBe(1);
    const variable = new RegExp([...patterns][0]!, "u");
    const texts = ["${A}", "x${A}y", "${A:-}", "${A:-b c}", "${A:-${B}}", "$${A}", "$$${A}", "$$$${A}", "a$${A}${B}", "${A:-x}$${B}", "${1A}", "${A", "${}", "$A", "${A-b}", "{A}", "8000"];
    for (const text of texts) expect([text, variable.test(text)]).toEqual([text, interpolate(text, {}).replaced]);
  });
});
