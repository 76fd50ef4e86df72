#!/usr/bin/env bun
// The `bun run cli` entry point: one citty command per administration task.
import { type CommandDef, defineCommand, runCommand, showUsage } from "citty";
import { canCommand, routesCommand } from "./commands/access.ts";
import { checkCommand } from "./commands/check.ts";
import { initDbCommand, migrateCommand } from "./commands/database.ts";
import { addGroupCommand, addGroupMemberCommand, listGroupsCommand, removeGroupCommand, removeGroupMemberCommand } from "./commands/groups.ts";
import { devServerCommand, serveCommand } from "./commands/server.ts";
import { tokenCommand } from "./commands/tokens.ts";
import {
  addUserCommand,
  disableUserCommand,
  enableUserCommand,
  listUsersCommand,
  removeUserCommand,
  setPasswordCommand,
  unlockAddressCommand,
  unlockUserCommand,
} from "./commands/users.ts";
import { validateCommand } from "./commands/validate.ts";
import { describeFailure } from "./errors.ts";

const main = defineCommand({
  meta: { name: "cli", description: "Administer an Endpoint server: database, users, groups, config and the server itself" },
  subCommands: {
    "init-db": initDbCommand,
    migrate: migrateCommand,
    "add-user": addUserCommand,
    "set-password": setPasswordCommand,
    "remove-user": removeUserCommand,
    "list-users": listUsersCommand,
    "disable-user": disableUserCommand,
    "enable-user": enableUserCommand,
    "unlock-user": unlockUserCommand,
    "unlock-address": unlockAddressCommand,
    "add-group": addGroupCommand,
    "remove-group": removeGroupCommand,
    "list-groups": listGroupsCommand,
    "add-group-member": addGroupMemberCommand,
    "remove-group-member": removeGroupMemberCommand,
    token: tokenCommand,
    validate: validateCommand,
    routes: routesCommand,
    can: canCommand,
    check: checkCommand,
    "dev-server": devServerCommand,
    serve: serveCommand,
  },
});

/** The command the arguments name (following subcommands), and its parent, for --help and usage errors. */
async function resolveCommand(argv: string[]): Promise<[CommandDef<any>, CommandDef<any> | undefined]> {
  let current: CommandDef<any> = main;
  let parent: CommandDef<any> | undefined;
  for (const token of argv) {
    if (token.startsWith("-")) continue;
    const subCommands = (await current.subCommands) as Record<string, CommandDef<any>> | undefined;
    const next = subCommands?.[token];
    if (!next) break;
    parent = current;
    current = next;
  }
  return [current, parent];
}

const argv = process.argv.slice(2);
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
    const name = (await cmd.meta)?.name ?? "cli";
    // citty colours its messages; strip that for a plain line.
    console.error(`error: ${(error as Error).message.replace(/\u001b\[[0-9;]*m/g, "")} (see: bun run cli ${name === "cli" ? "" : `${name} `}--help)`);
    process.exitCode = 2;
  } else {
    const { message, exitCode } = describeFailure(error);
    console.error(`error: ${message}`);
    process.exitCode = exitCode;
  }
}
// Server commands return only after shutdown; everything else is finished here. Exit even if a library
// left a timer behind.
process.exit(process.exitCode ?? 0);
