// dev-server and serve: run the HTTP server until SIGTERM or SIGINT.
import { startServer } from "../../src/server/start.ts";
import { command } from "../command.ts";
import { CommandError } from "../errors.ts";
import { loadOptionalConfig, resolveDatabaseUrl } from "../options.ts";

const serverArgs = {
  host: { type: "string", description: "Address to listen on (default: server.host in the config)", valueHint: "HOST" },
  port: { type: "string", description: "Port to listen on (default: server.port in the config, 8000)", valueHint: "PORT" },
} as const;

async function runServer(args: Record<string, any>, mode: "development" | "production", migrate: boolean): Promise<void> {
  const config = await loadOptionalConfig({ ...args, config: args.config ?? "./endpoint.yaml" }, true);
  if (!config) throw new CommandError("cannot read config file './endpoint.yaml': file not found");
  let port: number | undefined;
  if (args.port !== undefined) {
    port = Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CommandError(`--port must be a number from 0 to 65535 (got '${args.port}')`);
  }
  const server = await startServer({ config, databaseUrl: await resolveDatabaseUrl(args), mode, migrate, port, host: args.host });
  console.error(`Endpoint listening on ${server.url} (${mode}, database ${server.database.displayUrl})`);
  if (server.setupLink)
    console.error(`No user exists yet. Create the first administrator (this link works once, from this process):\n  ${server.setupLink}`);
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
  description: "Start the server for development (creates and migrates the embedded database when needed)",
  args: serverArgs,
  run: ({ args }) => runServer(args, "development", true),
});

export const serveCommand = command({
  name: "serve",
  description: "Start the server for production (refuses to start with pending migrations unless --migrate)",
  args: { ...serverArgs, migrate: { type: "boolean", description: "Apply pending migrations before serving" } },
  run: ({ args }) => runServer(args, "production", Boolean(args.migrate)),
});
