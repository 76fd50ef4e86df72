// Writes schema/endpoint.schema.json from the loader's own schema (src/config/schema.ts), for editors.
// `--check` exits 1 when the committed file is stale (CI runs it).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EndpointConfigSchema } from "../src/config/schema.ts";

const target = join(import.meta.dir, "..", "schema", "endpoint.schema.json");

/**
 * Text the loader substitutes (src/config/interpolate.ts): a ${NAME} or ${NAME:-default} anywhere in the string,
 * unless escaped as $${…}. test/config/json-schema.test.ts holds it to interpolate()'s own answer.
 */
const VARIABLE_PATTERN = "(^|[^$])\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}";
const VARIABLE = { type: "string", pattern: VARIABLE_PATTERN };

type Schema = Record<string, unknown>;

/** A value whose check the loader makes on the text after substitution, so ${VAR} may stand in for it. */
function checksSubstitutedText(schema: Schema): boolean {
  if (schema.type === "integer" || schema.type === "number" || schema.type === "boolean" || "const" in schema) return true;
  return schema.type === "string" && (schema.pattern !== undefined || schema.maxLength !== undefined);
}

/**
 * The schema as the loader applies it to YAML (src/config/check-schema.ts): ${VAR} is substituted in every string
 * value before types, patterns and choices are checked, so each such value also accepts a string holding a variable;
 * mapping keys are taken as written, and one that matches none of the key patterns (a group "Ops Team") is refused.
 */
function followLoader(schema: Schema): Schema {
  const out: Schema = { ...schema };
  for (const map of ["properties", "patternProperties"] as const)
    if (out[map]) out[map] = Object.fromEntries(Object.entries(out[map] as Record<string, Schema>).map(([key, child]) => [key, followLoader(child)]));
  if (out.patternProperties && out.additionalProperties === undefined) out.additionalProperties = false;
  if (out.items) out.items = followLoader(out.items as Schema);
  if (Array.isArray(out.anyOf)) {
    const alternatives = out.anyOf as Schema[];
    // A choice between plain values (30m or 1800; true, false or "auto") gets one more alternative, not one each.
    if (alternatives.every(checksSubstitutedText)) return { ...out, anyOf: [...alternatives, VARIABLE] };
    return { ...out, anyOf: alternatives.map(followLoader) };
  }
  if (!checksSubstitutedText(out)) return out;
  const { description, ...value } = out;
  return { ...(description === undefined ? {} : { description }), anyOf: [value, VARIABLE] };
}

const schema = followLoader(JSON.parse(JSON.stringify(EndpointConfigSchema)) as Schema);
const document = `${JSON.stringify({ $schema: "http://json-schema.org/draft-07/schema#", $id: "https://endpoint.dev/schema/endpoint.schema.json", ...schema }, null, 2)}\n`;

if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(target, "utf8");
  } catch {}
  if (committed !== document) {
    console.error("schema/endpoint.schema.json is out of date: run bun run schema");
    process.exit(1);
  }
  console.log("schema/endpoint.schema.json is up to date");
} else {
  writeFileSync(target, document);
  console.log(`wrote ${target}`);
}
