// reset-link and set-email: a one-time link that lets a user set a new password, and the address the sign-in
// page's "forgot password" form sends such links to. Both call into the accounts core.
import { DEFAULT_RESET_EXPIRY_SECONDS, createResetLink } from "../../src/accounts/password-resets.ts";
import { setEmail } from "../../src/accounts/users.ts";
import { parseDuration } from "../../src/config/durations.ts";
import { command } from "../command.ts";
import { cliActor, withDatabase } from "../database.ts";
import { CommandError, UsageError } from "../errors.ts";
import { loadOptionalConfig } from "../options.ts";

export const resetLinkCommand = command({
  name: "reset-link",
  args: {
    username: { type: "string", description: "The user who may set a new password with the link", required: true, valueHint: "U" },
    expires: { type: "string", description: "How long the link works, e.g. 30m, 1h, 2d (default 1h, at most 7d)", valueHint: "DURATION" },
  } as const,
  async run({ args }) {
    const config = await loadOptionalConfig(args);
    if (!config) throw new CommandError("reset-link needs the config (server.public_url, the link's address): no ./endpoint.yaml here; pass --config PATH");
    let expiresInSeconds = DEFAULT_RESET_EXPIRY_SECONDS;
    if (args.expires !== undefined) {
      const parsed = parseDuration(args.expires);
      if (parsed === null || parsed <= 0) throw new UsageError(`--expires must be a duration such as 30m, 1h or 2d (got '${args.expires.slice(0, 40)}')`);
      expiresInSeconds = parsed;
    }
    await withDatabase(args, async ({ db }) => {
      const link = await createResetLink(db, cliActor(), args.username, { publicUrl: config.server.publicUrl, expiresInSeconds });
      console.error(`reset link for '${link.username}' made, works once until ${link.expiresAt.toISOString()}`);
      console.error("give it to them now: it is shown only this once");
      console.log(link.url);
    });
  },
});

export const setEmailCommand = command({
  name: "set-email",
  args: {
    username: { type: "string", description: "The user's name", required: true, valueHint: "U" },
    email: { type: "string", description: "Their e-mail address; an empty string clears it", required: true, valueHint: "ADDRESS" },
  } as const,
  async run({ args }) {
    await withDatabase(args, async ({ db }) => {
      await setEmail(db, cliActor(), args.username, args.email);
      console.log(args.email.trim() ? `email of user '${args.username}' set` : `email of user '${args.username}' cleared`);
    });
  },
});
