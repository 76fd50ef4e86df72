#!/usr/bin/env bun
// The `bun run cli` entry point: one citty command per administration task. Commands load lazily: this file names
// each with its description and the module that implements it, so `--help` (and any one command) loads only
// what it needs — the database drivers, Elysia and the config loader stay unread until a command uses them.
import { type CommandDef, defineCommand, runCommand, showUsage } from "citty";
import { hoistGlobalOptions } from "./global-args.ts";

type Loader = () => Promise<CommandDef<any>>;
const LOAD = Symbol("load");

/** A command known by name and description here, its options and code read from its module when it runs. */
function lazy(name: string, description: string, load: Loader): CommandDef<any> & { [LOAD]: Loader } {
  let loaded: Promise<CommandDef<any>> | undefined;
  const command = () => (loaded ??= load());
  return {
    [LOAD]: command,
    meta: { name, description },
    args: async () => (await command()).args ?? {},
    subCommands: async () => (await command()).subCommands as never,
    run: async (context) => {
      const loaded = await command();
      if (loaded.run) return loaded.run(context);
      // A command made of subcommands (migrate, token, db): citty has already run the one named, and calls this
      // afterwards. With none named, the same usage error citty gives.
      const named = context.rawArgs.find((token) => !token.startsWith("-"));
      const subCommands = (await resolve(loaded.subCommands)) as Record<string, unknown> | undefined;
      if (!named || !subCommands?.[named]) throw Object.assign(new Error("No command specified."), { name: "CLIError" });
    },
  };
}

const commands: Record<string, CommandDef<any>> = {
  "init-db": lazy("init-db", "Create the database if needed and apply all migrations (safe to run again)", () =>
    import("./commands/database.ts").then((m) => m.initDbCommand),
  ),
  migrate: lazy("migrate", "Apply, revert, list, check or scaffold migrations", () => import("./commands/database.ts").then((m) => m.migrateCommand)),
  db: lazy("db", "Generate db/schema.ts (the database's TypeScript types) from the migrations", () => import("./commands/db.ts").then((m) => m.dbCommand)),
  "add-user": lazy("add-user", "Create a user (asks for the password on a terminal when neither password option is given)", () =>
    import("./commands/users.ts").then((m) => m.addUserCommand),
  ),
  "set-password": lazy("set-password", "Set a user's password; their sessions end and their tokens stop working", () =>
    import("./commands/users.ts").then((m) => m.setPasswordCommand),
  ),
  "reset-link": lazy("reset-link", "Print a one-time link that lets a user set a new password (default: works for 1h)", () =>
    import("./commands/reset.ts").then((m) => m.resetLinkCommand),
  ),
  "set-email": lazy("set-email", "Set or clear a user's e-mail address (where password-reset links are sent)", () =>
    import("./commands/reset.ts").then((m) => m.setEmailCommand),
  ),
  "remove-user": lazy("remove-user", "Remove a user with their memberships, sessions and tokens", () => import("./commands/users.ts").then((m) => m.removeUserCommand)),
  "list-users": lazy("list-users", "List users with their groups", () => import("./commands/users.ts").then((m) => m.listUsersCommand)),
  "disable-user": lazy("disable-user", "Disable a user: their sessions and unused reset links end and their tokens are refused until enabled again", () =>
    import("./commands/users.ts").then((m) => m.disableUserCommand),
  ),
  "enable-user": lazy("enable-user", "Enable a disabled user again", () => import("./commands/users.ts").then((m) => m.enableUserCommand)),
  "unlock-user": lazy("unlock-user", "Clear a user's login lock-out after too many failed sign-ins", () =>
    import("./commands/users.ts").then((m) => m.unlockUserCommand),
  ),
  "unlock-address": lazy("unlock-address", "Clear a client address's login lock-out after too many failed sign-ins from it", () =>
    import("./commands/users.ts").then((m) => m.unlockAddressCommand),
  ),
  "add-group": lazy("add-group", "Create a group", () => import("./commands/groups.ts").then((m) => m.addGroupCommand)),
  "remove-group": lazy("remove-group", "Remove a group and its memberships (not the admin group, nor a group endpoint.yaml declares)", () =>
    import("./commands/groups.ts").then((m) => m.removeGroupCommand),
  ),
  "list-groups": lazy("list-groups", "List groups with their members", () => import("./commands/groups.ts").then((m) => m.listGroupsCommand)),
  "add-group-member": lazy("add-group-member", "Add a user to a group", () => import("./commands/groups.ts").then((m) => m.addGroupMemberCommand)),
  "remove-group-member": lazy("remove-group-member", "Remove a user from a group (not the last active member of the admin group)", () =>
    import("./commands/groups.ts").then((m) => m.removeGroupMemberCommand),
  ),
  token: lazy("token", "Create, list and revoke API tokens", () => import("./commands/tokens.ts").then((m) => m.tokenCommand)),
  mfa: lazy("mfa", "Two-step sign-in: mfa reset --username U removes a user's (the way back in)", () => import("./commands/mfa.ts").then((m) => m.mfaCommand)),
  validate: lazy("validate", "Check endpoint.yaml: every error, one file:line:col line each (exit 1 if any)", () =>
    import("./commands/validate.ts").then((m) => m.validateCommand),
  ),
  routes: lazy("routes", "Print the effective route table: built-in routes and those of endpoint.yaml", () =>
    import("./commands/access.ts").then((m) => m.routesCommand),
  ),
  can: lazy("can", "Say whether a user (or a token) may call a route, and which rule decides (exit 0 yes, 1 no)", () =>
    import("./commands/access.ts").then((m) => m.canCommand),
  ),
  check: lazy("check", "Audit the setup: --deploy checks secret, https, cookies, proxies and other production settings (exit 1 on any finding)", () =>
    import("./commands/check.ts").then((m) => m.checkCommand),
  ),
  "dev-server": lazy("dev-server", "Start the server for development: embedded database created, migrated and shared with the CLI; reload on save", () =>
    import("./commands/server.ts").then((m) => m.devServerCommand),
  ),
  serve: lazy("serve", "Start the server for production (refuses to start with pending migrations unless --migrate)", () =>
    import("./commands/server.ts").then((m) => m.serveCommand),
  ),
};

const main = defineCommand({
  meta: { name: "cli", description: "Administer an Endpoint server: database, users, groups, config and the server itself" },
  subCommands: commands,
});

/** The command the arguments name (following subcommands), and its parent, for --help and usage errors. */
async function resolveCommand(argv: string[]): Promise<[CommandDef<any>, CommandDef<any> | undefined]> {
  let current: CommandDef<any> = main;
  let parent: CommandDef<any> | undefined;
  for (const token of argv) {
    if (token.startsWith("-")) continue;
    const subCommands = (await resolve(current.subCommands)) as Record<string, CommandDef<any>> | undefined;
    const next = subCommands?.[token] as (CommandDef<any> & { [LOAD]?: Loader }) | undefined;
    if (!next) break;
    parent = current;
    // For usage, the command as its module defines it (its subcommands, if any), under the name and description here.
    current = next[LOAD] ? { ...(await next[LOAD]()), meta: next.meta } : next;
  }
  return [current, parent];
}

const resolve = async <T>(value: T | (() => T | Promise<T>)): Promise<T> => (typeof value === "function" ? (value as () => T)() : value);

// Global options (--config, --database-url) may come before the command, as in `cli --database-url X list-users`.
const argv = hoistGlobalOptions(process.argv.slice(2), Object.keys(commands));
try {
  if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
    const [cmd, parent] = await resolveCommand(argv);
    await showUsage(cmd, parent);
  } else {
    await runCommand(main, { rawArgs: argv });
  }
} catch (error) {
  if ((error as { name?: string }).name === "CLIError") {
    const [cmd] = await resolveCommand(argv);
    const name = (await resolve(cmd.meta))?.name ?? "cli";
    // citty colours its messages; strip that for a plain line.
    console.error(`error: ${(error as Error).message.replace(/\u001b\[[0-9;]*m/g, "")} (see: bun run cli ${name === "cli" ? "" : `${name} `}--help)`);
    process.exitCode = 2;
  } else {
    const { describeFailure } = await import("./failure.ts");
    const { message, exitCode } = describeFailure(error);
    console.error(`error: ${message}`);
    process.exitCode = exitCode;
  }
}
// Server commands return only after shutdown; everything else is finished here. Exit even if a library
// left a timer behind.
process.exit(process.exitCode ?? 0);
