// dev-server and serve: run the HTTP server until SIGTERM or SIGINT.
import { startServer } from "../../src/server/start.ts";
import { watchSources } from "../../src/server/watch.ts";
import { command } from "../command.ts";
import { CommandError } from "../errors.ts";
import { loadOptionalConfig, resolveDatabaseUrl } from "../options.ts";

const serverArgs = {
  host: { type: "string", description: "Address to listen on (default: server.host in the config)", valueHint: "HOST" },
  port: { type: "string", description: "Port to listen on (default: server.port in the config, 8000)", valueHint: "PORT" },
} as const;

async function runServer(args: Record<string, any>, mode: "development" | "production", migrate: boolean, watchForChanges = false): Promise<void> {
  const config = await loadOptionalConfig({ ...args, config: args.config ?? "./endpoint.yaml" }, true);
  if (!config) throw new CommandError("cannot read config file './endpoint.yaml': file not found");
  let port: number | undefined;
  if (args.port !== undefined) {
    port = Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CommandError(`--port must be a number from 0 to 65535 (got '${args.port}')`);
  }
  const server = await startServer({
    config,
    databaseUrl: await resolveDatabaseUrl(args),
    mode,
    migrate,
    port,
    host: args.host,
    shareEmbeddedDatabase: mode === "development",
  });
  console.error(`Endpoint listening on ${server.url} (${mode}, database ${server.database.displayUrl})`);
  if (server.database.psqlCommand)
    console.error(`The embedded database is shared: bun run cli … works beside this server, and so does\n  ${server.database.psqlCommand}`);
  if (server.setupLink)
    console.error(`No user exists yet. Create the first administrator (this link works once, from this process):\n  ${server.setupLink}`);
  const stopWatching = watchForChanges
    ? watchSources(config.file, server.routesDir, async () => {
        const result = await server.reload({ freshModules: true });
        if (result.ok) console.error(`Reloaded ${config.file} and routes/: ${result.routes} routes`);
        else console.error(`Not reloaded; still serving the previous routes:\n${result.findings.join("\n")}`);
      })
    : () => {};
  void server.stopped.then(stopWatching);
  // First SIGTERM/SIGINT: finish in-flight requests, then exit 0. A second one: exit at once.
  let signalled = false;
  const onSignal = () => {
    if (signalled) process.exit(1);
    signalled = true;
    void server.stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  process.on("SIGHUP", () => void server.reload());
  await server.stopped;
}

export const devServerCommand = command({
  name: "dev-server",
  args: {
    ...serverArgs,
    watch: { type: "boolean", default: true, description: "Reload when endpoint.yaml or a module under routes/ is saved (--no-watch: do not)" },
  },
  run: ({ args }) => runServer(args, "development", true, args.watch !== false),
});

export const serveCommand = command({
  name: "serve",
  args: { ...serverArgs, migrate: { type: "boolean", description: "Apply pending migrations before serving" } },
  run: ({ args }) => runServer(args, "production", Boolean(args.migrate)),
});
