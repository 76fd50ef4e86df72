// add-user, set-password, remove-user, list-users.
import { recordAudit } from "../../src/admin/audit.ts";
import { createUser, listUsers, removeUser, requireUser, setPassword } from "../../src/admin/users.ts";
import { unlockUsername } from "../../src/auth/throttle.ts";
import { command } from "../command.ts";
import { cliActor, printJson, printTable, readPassword, withDatabase } from "../runtime.ts";

const usernameArg = { username: { type: "string", description: "The user's name", required: true, valueHint: "U" } } as const;
const passwordArgs = {
  password: { type: "string", description: "The password (visible in the process list; prefer --password-stdin)", valueHint: "P" },
  "password-stdin": { type: "boolean", description: "Read the password from standard input" },
} as const;

export const addUserCommand = command({
  name: "add-user",
  description: "Create a user (asks for the password on a terminal when neither password option is given)",
  args: { ...usernameArg, ...passwordArgs },
  async run({ args }) {
    const password = await readPassword(args);
    await withDatabase(args, async ({ db }) => {
      const user = await createUser(db, cliActor(), { username: args.username, password });
      console.log(`user '${user.username}' created`);
    });
  },
});

export const setPasswordCommand = command({
  name: "set-password",
  description: "Set a user's password; their sessions end and their tokens stop working",
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
  description: "Remove a user with their memberships, sessions and tokens",
  args: usernameArg,
  async run({ args }) {
    await withDatabase(args, async ({ db }) => {
      await removeUser(db, cliActor(), args.username);
      console.log(`user '${args.username}' removed`);
    });
  },
});

export const listUsersCommand = command({
  name: "list-users",
  description: "List users with their groups",
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
  description: "Clear a user's login lock-out after too many failed sign-ins",
  args: usernameArg,
  async run({ args }) {
    await withDatabase(args, async ({ db }) => {
      const user = await requireUser(db, args.username);
      const lifted = await unlockUsername(db, user.username);
      await recordAudit(db, cliActor(), "user.unlock", user.username);
      console.log(lifted ? `user '${user.username}' unlocked` : `user '${user.username}' was not locked out`);
    });
  },
});
