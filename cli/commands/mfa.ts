// mfa reset: the way back in for a user who lost their authenticator app and recovery codes. Removes their
// two-step sign-in (audited); they sign in with the password alone, or enrol again where auth.mfa.required_for says so.
import { defineCommand } from "citty";
import { resetMfa } from "../../src/accounts/mfa.ts";
import { command } from "../command.ts";
import { cliActor, withDatabase } from "../database.ts";

export const mfaCommand = defineCommand({
  meta: { name: "mfa" },
  subCommands: {
    reset: command({
      name: "reset",
      description: "Turn off a user's two-step sign-in (secret and recovery codes removed; audited)",
      args: { username: { type: "string", description: "The user's name", required: true, valueHint: "U" } } as const,
      async run({ args }) {
        await withDatabase(args, async ({ db }) => {
          const { username, enrolled } = await resetMfa(db, cliActor(), args.username);
          console.log(enrolled ? `two-step sign-in removed for user '${username}'` : `user '${username}' had no two-step sign-in`);
        });
      },
    }),
  },
});
