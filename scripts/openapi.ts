// Writes the OpenAPI document of endpoint.yaml's whole route table (as `server.openapi: public` serves it) to the
// file named, without a database or a server: CI lints it with redocly (`bun scripts/openapi.ts /tmp/openapi.json`).
import { writeFileSync } from "node:fs";
import { loadHandlers } from "../src/config/handlers.ts";
import { loadConfigOrThrow } from "../src/config/load.ts";
import { allBuiltinRoutes } from "../src/server/builtin/all.ts";
import { openApiDocument } from "../src/server/builtin/openapi.ts";
import { buildRouteTable } from "../src/server/route-table.ts";

const [target, configFile = "endpoint.yaml"] = process.argv.slice(2);
if (!target) {
  console.error("usage: bun scripts/openapi.ts OUT.json [endpoint.yaml]");
  process.exit(2);
}
const config = await loadConfigOrThrow(configFile);
const table = buildRouteTable(config, await loadHandlers(config), allBuiltinRoutes(config));
writeFileSync(target, `${JSON.stringify(openApiDocument(config, table), null, 2)}\n`);
console.log(`wrote ${target}: ${table.length} operations`);
