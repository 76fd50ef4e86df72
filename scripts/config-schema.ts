// Writes schema/endpoint.schema.json from the loader's own schema (src/config/schema.ts), for editors.
// `--check` exits 1 when the committed file is stale (CI runs it).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EndpointConfigSchema } from "../src/config/schema.ts";

const target = join(import.meta.dir, "..", "schema", "endpoint.schema.json");

/** Numbers and switches may also be written as ${VAR} (the loader interpolates before it checks types). */
function allowVariables(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowVariables);
  if (!node || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = allowVariables(value);
  if (out.type === "integer" || out.type === "boolean" || out.type === "number")
    return { anyOf: [out, { type: "string", pattern: "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}" }] };
  return out;
}

const schema = allowVariables(JSON.parse(JSON.stringify(EndpointConfigSchema))) as object;
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
