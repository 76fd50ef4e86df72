// validate: check endpoint.yaml without starting anything, the way `nginx -t` does. With --database, also check
// that every group a route names exists in the database.
import { loadConfig } from "../../src/config/load.ts";
import { formatFinding } from "../../src/config/findings.ts";
import { command } from "../command.ts";
import { DEFAULT_CONFIG } from "../options.ts";

export const validateCommand = command({
  name: "validate",
  args: {
    json: { type: "boolean", description: "Print the result as JSON" },
    database: { type: "boolean", description: "Also check that every group a route names exists in the database" },
  } as const,
  async run({ args }) {
    const file = typeof args.config === "string" && args.config ? args.config : DEFAULT_CONFIG.replace(/^\.\//, "");
    let result = await loadConfig(file);
    if (result.ok && args.database) {
      // The database drivers load only for --database: plain validate stays quick enough for an editor hook.
      const [{ listGroups }, { withDatabase }] = await Promise.all([import("../../src/accounts/groups.ts"), import("../database.ts")]);
      const databaseGroups = new Set((await withDatabase(args, ({ db }) => listGroups(db))).map((g) => g.name));
      result = await loadConfig(file, { databaseGroups });
    }
    if (!result.ok) {
      if (args.json) console.log(JSON.stringify({ ok: false, errors: result.findings }, null, 2));
      else for (const finding of result.findings) console.error(formatFinding(finding));
      process.exitCode = 1;
      return;
    }
    const { routes, groups } = result.config;
    const summary = { ok: true, routes: routes.length, groups: Object.keys(groups).length };
    if (args.json) console.log(JSON.stringify(summary));
    else console.log(`${file}: OK — ${summary.routes} routes, ${summary.groups} groups${args.database ? ", all in the database" : ""}`);
  },
});
