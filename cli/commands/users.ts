// add-user, set-password, disable-user, enable-user, remove-user, list-users, unlock-user, unlock-address: each one
// call into the accounts core (or the throttle), which holds the rules.
import { createUser, listUsers, removeUser, requireUser, setDisabled, setPassword } from "../../src/accounts/users.ts";
import { unlockAddress, unlockUsername } from "../../src/auth/throttle.ts";
import { command } from "../command.ts";
import { cliActor, withDatabase } from "../database.ts";
import { UsageError } from "../errors.ts";
import { rulesFor } from "../options.ts";
import { printJson, printTable } from "../output.ts";
import { readPassword } from "../password-prompt.ts";

const usernameArg = { username: { type: "string", description: "The user's name", required: true, valueHint: "U" } } as const;
const passwordArgs = {
  password: { type: "string", description: "The password (visible in the process list; prefer --password-stdin)", valueHint: "P" },
  "password-stdin": { type: "boolean", description: "Read the password from standard input" },
} as const;

export const addUserCommand = command({
  name: "add-user",
  args: { ...usernameArg, ...passwordArgs, email: { type: "string", description: "Their e-mail address, for password-reset links (optional)", valueHint: "ADDRESS" } },
  async run({ args }) {
    const password = await readPassword(args);
    await withDatabase(args, async ({ db }) => {
      const user = await createUser(db, cliActor(), { username: args.username, password, email: args.email });
      console.log(`user '${user.username}' created`);
    });
  },
});

export const setPasswordCommand = command({
  name: "set-password",
  args: { ...usernameArg, ...passwordArgs },
  async run({ args }) {
    const password = await readPassword(args);
    await withDatabase(args, async ({ db }) => {
      await setPassword(db, cliActor(), args.username, password);
      console.log(`password of user '${args.username}' changed; their sessions have ended`);
    });
  },
});

export const removeUserCommand = command({
  name: "remove-user",
  args: usernameArg,
  async run({ args }) {
    const rules = await rulesFor(args);
    await withDatabase(args, async ({ db }) => {
      await removeUser(db, rules, cliActor(), args.username);
      console.log(`user '${args.username}' removed`);
    });
  },
});

export const disableUserCommand = command({
  name: "disable-user",
  args: usernameArg,
  async run({ args }) {
    const rules = await rulesFor(args);
    await withDatabase(args, async ({ db }) => {
      await setDisabled(db, rules, cliActor(), args.username, true);
      console.log(`user '${args.username}' disabled; their sessions have ended`);
    });
  },
});

export const enableUserCommand = command({
  name: "enable-user",
  args: usernameArg,
  async run({ args }) {
    const rules = await rulesFor(args);
    await withDatabase(args, async ({ db }) => {
      await setDisabled(db, rules, cliActor(), args.username, false);
      console.log(`user '${args.username}' enabled`);
    });
  },
});

export const listUsersCommand = command({
  name: "list-users",
  args: { json: { type: "boolean", description: "Print JSON" } },
  async run({ args }) {
    await withDatabase(args, async ({ db }) => {
      const { users } = await listUsers(db);
      if (args.json) return printJson(users);
      printTable(
        ["USERNAME", "STATUS", "GROUPS", "CREATED"],
        users.map((u) => [u.username, u.disabled ? "disabled" : "active", u.groups.join(",") || "-", u.created_at.toISOString()]),
      );
    });
  },
});

export const unlockUserCommand = command({
  name: "unlock-user",
  args: usernameArg,
  async run({ args }) {
    await withDatabase(args, async ({ db }) => {
      const user = await requireUser(db, args.username);
      const lifted = await unlockUsername(db, cliActor(), user.username);
      console.log(lifted ? `user '${user.username}' unlocked` : `user '${user.username}' was not locked out`);
    });
  },
});

export const unlockAddressCommand = command({
  name: "unlock-address",
  args: { address: { type: "string", description: "The client address, as the lock-out list shows it", required: true, valueHint: "A" } },
  async run({ args }) {
    const address = args.address.trim();
    if (!/^[0-9A-Fa-f.:]{2,45}$/.test(address) && address !== "unknown")
      throw new UsageError(`--address must be an IPv4 or IPv6 address (got '${address.slice(0, 45).replace(/[^\x20-\x7e]/g, "?")}')`);
    await withDatabase(args, async ({ db }) => {
      const lifted = await unlockAddress(db, cliActor(), address);
      console.log(lifted ? `address ${address} unlocked` : `address ${address} was not locked out`);
    });
  },
});
