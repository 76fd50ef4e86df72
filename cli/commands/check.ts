// check --deploy: is this a sound production setup? One finding per problem, each with its fix; exit 1 on any.
import { checkDeployment } from "../../src/server/deploy-check.ts";
import { command } from "../command.ts";
import { CommandError, UsageError } from "../errors.ts";
import { loadOptionalConfig, resolveDatabaseUrl } from "../options.ts";

export const checkCommand = command({
  name: "check",
  args: {
    deploy: { type: "boolean", description: "Check the production settings" },
    json: { type: "boolean", description: "Print the findings as JSON" },
  } as const,
  async run({ args }) {
    if (!args.deploy) throw new UsageError("say what to check: --deploy");
    const config = await loadOptionalConfig({ ...args, config: args.config ?? "./endpoint.yaml" }, true);
    if (!config) throw new CommandError("cannot read config file './endpoint.yaml': file not found");
    const findings = checkDeployment(config, process.env, await resolveDatabaseUrl(args));
    if (args.json) console.log(JSON.stringify({ ok: findings.length === 0, findings }, null, 2));
    else if (findings.length === 0) console.log("no problems found: this looks like a sound production setup");
    else {
      for (const f of findings) console.log(`[${f.code}] ${f.message}\n    fix: ${f.fix}`);
      console.log(`${findings.length} problem${findings.length === 1 ? "" : "s"} found`);
    }
    if (findings.length) process.exitCode = 1;
  },
});
