// The admin pages (members of the admin group, by session): users, groups, tokens, lock-outs and the audit log,
// doing in the browser what the CLI does, through the same accounts functions (which hold every rule). A failed
// action re-renders its page with the reason; destructive actions ask for confirmation first; sensitive ones ask
// for the password again (sudo mode, handled by the pipeline when the core says so).
import type { Actor } from "../../accounts/audit.ts";
import { listAudit } from "../../accounts/audit.ts";
import { addMember, createGroup, listGroups, removeGroup, removeMember } from "../../accounts/groups.ts";
import { accountRules } from "../../accounts/rules.ts";
import { findToken, listTokens, revokeToken } from "../../accounts/tokens.ts";
import { createResetLink } from "../../accounts/password-resets.ts";
import { mfaStatus, resetMfa } from "../../accounts/mfa.ts";
import { createUser, describeUser, listUsers, removeUser, requireUser, setDisabled, setEmail, setPassword } from "../../accounts/users.ts";
import { issueToken } from "../../auth/issue-token.ts";
import { listLockouts, unlockAddress, unlockUsername } from "../../auth/throttle.ts";
import type { Principal } from "../../auth/principal.ts";
import type { Config } from "../../config/schema.ts";
import { EndpointError } from "../../errors.ts";
import { type HandlerContext, defineHandler } from "../../handlers/define-handler.ts";
import { html } from "../../handlers/html.ts";
import { type AdminFrame, AuditLogPage, ConfirmPage, GroupsPage, LockoutsPage, TokensPage, UserPage, UsersPage } from "../../pages/admin-pages.tsx";
import { isShownOnPage } from "../problem.ts";
import { type Route, builtinRoute, membersOf } from "../route.ts";

type Context = HandlerContext<any, any, any, Principal>;
const PER_PAGE = 50;

export function adminRoutes(config: Config): Route[] {
  const rules = accountRules(config);
  const access = membersOf([config.auth.adminGroup], ["session"]);
  const frame = (context: Context, extra: Partial<AdminFrame> = {}): AdminFrame => ({
    principal: context.caller,
    csrfToken: context.session!.csrfToken,
    isAdmin: context.caller.groups.includes(config.auth.adminGroup),
    ...extra,
  });
  const actor = (context: Context): Actor => context.actor;
  const field = (context: Context, name: string) => context.form?.get(name) ?? "";
  const pageNumber = (context: Context) => {
    const raw = context.searchParams.get("page");
    const page = raw && /^\d{1,6}$/.test(raw) ? Number(raw) : 1;
    return Math.max(1, page);
  };

  const usersPage = async (context: Context, extra: Partial<AdminFrame> = {}, status = 200) => {
    let search = "";
    let page = 1;
    try {
      search = (context.searchParams.get("search") ?? "").slice(0, 64);
      page = pageNumber(context);
    } catch (error) {
      // A search PostgreSQL would refuse (NUL): show the page with the reason, not a failed query.
      if (!(error instanceof EndpointError)) throw error;
      extra = { ...extra, error: error.message };
      status = error.status;
    }
    const { users, total } = await listUsers(context.services.db, { search: search || undefined, limit: PER_PAGE, offset: (page - 1) * PER_PAGE });
    return html(UsersPage({ ...frame(context, extra), users, total, page, perPage: PER_PAGE, search }), status);
  };
  const userPage = async (context: Context, username: string, extra: Partial<AdminFrame> & { newToken?: string; resetLink?: string } = {}, status = 200) => {
    const { db } = context.services;
    const user = await describeUser(db, username);
    const [tokens, mfa] = await Promise.all([listTokens(db, { username: user.username }), mfaStatus(db, user.id)]);
    const page = html(UserPage({ ...frame(context, extra), user, tokens, mfa, newToken: extra.newToken, resetLink: extra.resetLink }), status);
    // A page showing a reset link sends only the origin in a Referer, never more. Not no-referrer: under it a browser
    // posts this page's forms with `Origin: null`, which the CSRF check refuses.
    return extra.resetLink ? html(page.body, status, { "Referrer-Policy": "strict-origin" }) : page;
  };
  const groupsPage = async (context: Context, extra: Partial<AdminFrame> = {}, status = 200) =>
    html(GroupsPage({ ...frame(context, extra), groups: await listGroups(context.services.db, rules) }), status);
  const tokensPage = async (context: Context, extra: Partial<AdminFrame> = {}, status = 200) =>
    html(TokensPage({ ...frame(context, extra), tokens: await listTokens(context.services.db) }), status);
  const lockoutsPage = async (context: Context, extra: Partial<AdminFrame> = {}, status = 200) =>
    html(LockoutsPage({ ...frame(context, extra), lockouts: await listLockouts(context.services.db) }), status);

  /**
   * Run an action; an expected failure re-renders `onFailure` with its message and status. A request for the
   * password (sudo mode) goes up to the pipeline, which shows the confirmation page.
   */
  const attempt = async (action: () => Promise<unknown>, onFailure: (error: EndpointError) => Promise<unknown>) => {
    try {
      await action();
      return null;
    } catch (error) {
      if (isShownOnPage(error)) return onFailure(error);
      throw error;
    }
  };

  const route = (method: "GET" | "POST", path: string, description: string, handle: (context: Context) => unknown): Route =>
    builtinRoute({
      name: `admin${path.replace(/^\/admin/, "").replace(/[/:]+/g, "-") || "-home"}${method === "POST" ? "-post" : ""}`,
      method,
      path,
      access,
      description,
      handler: defineHandler({ signedIn: true, handle }),
    });

  return [
    route("GET", "/admin", "Admin home: the users page", () => new Response(null, { status: 303, headers: { Location: "/admin/users" } })),
    route("GET", "/admin/users", "Users: search, page, create", (context) => usersPage(context)),
    route("POST", "/admin/users", "Create a user", async (context) => {
      let username = "";
      const failed = await attempt(
        async () => {
          username = field(context, "username").trim();
          await createUser(context.services.db, actor(context), { username, password: field(context, "password"), email: field(context, "email") });
        },
        (error) => usersPage(context, { error: error.message }, error.status),
      );
      return failed ?? usersPage(context, { notice: `User '${username}' created.` }, 201);
    }),
    route("GET", "/admin/users/:username", "A user: groups, tokens, actions", (context) => userPage(context, context.params.username)),
    route("POST", "/admin/users/:username/disable", "Disable a user", async (context) => {
      const { username } = context.params;
      const failed = await attempt(
        () => setDisabled(context.services.db, rules, actor(context), username, true),
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "User disabled; their sessions have ended." });
    }),
    route("POST", "/admin/users/:username/enable", "Enable a user", async (context) => {
      const { username } = context.params;
      const failed = await attempt(
        () => setDisabled(context.services.db, rules, actor(context), username, false),
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "User enabled." });
    }),
    route("POST", "/admin/users/:username/password", "Set a user's password", async (context) => {
      const { username } = context.params;
      const failed = await attempt(
        () => setPassword(context.services.db, actor(context), username, field(context, "password")),
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "Password set; their sessions have ended and their tokens were revoked." });
    }),
    route("POST", "/admin/users/:username/reset-link", "Make a one-time password-reset link for a user (shown once)", async (context) => {
      const { username } = context.params;
      let resetLink = "";
      const failed = await attempt(
        async () => {
          resetLink = (await createResetLink(context.services.db, actor(context), username, { publicUrl: config.server.publicUrl })).url;
        },
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "Reset link made.", resetLink });
    }),
    route("POST", "/admin/users/:username/mfa-reset", "Reset a user's two-step sign-in (authenticator and recovery codes)", async (context) => {
      const { username } = context.params;
      let enrolled = false;
      const failed = await attempt(
        async () => {
          enrolled = (await resetMfa(context.services.db, actor(context), username)).enrolled;
        },
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: enrolled ? "Two-step sign-in reset: they sign in with their password alone until they set it up again." : "They had no two-step sign-in; nothing to reset." });
    }),
    route("POST", "/admin/users/:username/email", "Set or clear a user's e-mail address", async (context) => {
      const { username } = context.params;
      const failed = await attempt(
        () => setEmail(context.services.db, actor(context), username, field(context, "email")),
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "E-mail address saved." });
    }),
    route("POST", "/admin/users/:username/tokens", "Create a token for a user (shown once)", async (context) => {
      const { username } = context.params;
      let token = "";
      const failed = await attempt(
        async () => {
          const { db, codec, routes } = context.services;
          const issued = await issueToken(db, codec, rules, actor(context), {
            username,
            name: field(context, "name").trim(),
            defaultExpirySeconds: config.auth.tokenDefaultExpirySeconds,
            maxExpirySeconds: config.auth.tokenMaxExpirySeconds,
            knownRoutes: routes.map((e) => e.name),
          });
          token = issued.token;
        },
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "Token created.", newToken: token });
    }),
    route("GET", "/admin/users/:username/delete", "Confirm deleting a user", async (context) => {
      const user = await requireUser(context.services.db, context.params.username);
      const base = `/admin/users/${encodeURIComponent(user.username)}`;
      return html(ConfirmPage({ ...frame(context), question: `Delete user '${user.username}' with their memberships, sessions and tokens?`, action: `${base}/delete`, back: base }));
    }),
    route("POST", "/admin/users/:username/delete", "Delete a user", async (context) => {
      const { username } = context.params;
      const failed = await attempt(
        () => removeUser(context.services.db, rules, actor(context), username),
        (error) => usersPage(context, { error: error.message }, error.status),
      );
      return failed ?? usersPage(context, { notice: `User '${username}' deleted.` });
    }),
    route("GET", "/admin/groups", "Groups and members", (context) => groupsPage(context)),
    route("POST", "/admin/groups", "Create a group", async (context) => {
      let name = "";
      const failed = await attempt(
        async () => {
          name = field(context, "name").trim();
          await createGroup(context.services.db, actor(context), { name, description: field(context, "description") });
        },
        (error) => groupsPage(context, { error: error.message }, error.status),
      );
      return failed ?? groupsPage(context, { notice: `Group '${name}' created.` }, 201);
    }),
    route("POST", "/admin/groups/:name/members", "Add a member", async (context) => {
      let username = "";
      const failed = await attempt(
        async () => {
          username = field(context, "username").trim();
          await addMember(context.services.db, rules, actor(context), context.params.name, username);
        },
        (error) => groupsPage(context, { error: error.message }, error.status),
      );
      return failed ?? groupsPage(context, { notice: `'${username}' added to '${context.params.name}'.` });
    }),
    route("POST", "/admin/groups/:name/members/remove", "Remove a member", async (context) => {
      let username = "";
      const failed = await attempt(
        async () => {
          username = field(context, "username");
          await removeMember(context.services.db, rules, actor(context), context.params.name, username);
        },
        (error) => groupsPage(context, { error: error.message }, error.status),
      );
      return failed ?? groupsPage(context, { notice: `'${username}' removed from '${context.params.name}'.` });
    }),
    route("GET", "/admin/groups/:name/members/:username/remove", "Confirm removing a member", (context) => {
      const { name, username } = context.params;
      return html(
        ConfirmPage({ ...frame(context), question: `Take '${username}' out of group '${name}'?`, action: `/admin/groups/${encodeURIComponent(name)}/members/remove`, back: "/admin/groups", fields: { username }, confirm: "Yes, remove" }),
      );
    }),
    route("GET", "/admin/groups/:name/delete", "Confirm deleting a group", (context) => {
      const base = `/admin/groups/${encodeURIComponent(context.params.name)}`;
      return html(ConfirmPage({ ...frame(context), question: `Delete group '${context.params.name}' and its memberships?`, action: `${base}/delete`, back: "/admin/groups" }));
    }),
    route("POST", "/admin/groups/:name/delete", "Delete a group", async (context) => {
      const { name } = context.params;
      const failed = await attempt(
        () => removeGroup(context.services.db, rules, actor(context), name),
        (error) => groupsPage(context, { error: error.message }, error.status),
      );
      return failed ?? groupsPage(context, { notice: `Group '${name}' deleted.` });
    }),
    route("GET", "/admin/tokens", "All tokens", (context) => tokensPage(context)),
    route("GET", "/admin/tokens/:id/revoke", "Confirm revoking a token", async (context) => {
      const token = await findToken(context.services.db, rules, actor(context), context.params.id);
      return html(
        ConfirmPage({ ...frame(context), question: `Revoke token '${token.name}' of '${token.owner}'? Whatever uses it will be refused.`, action: "/admin/tokens/revoke", back: "/admin/tokens", fields: { id: token.id }, confirm: "Yes, revoke" }),
      );
    }),
    route("POST", "/admin/tokens/revoke", "Revoke a token", async (context) => {
      const failed = await attempt(
        async () => context.services.cache.forgetTokens(await revokeToken(context.services.db, rules, actor(context), field(context, "id"))),
        (error) => tokensPage(context, { error: error.message }, error.status),
      );
      return failed ?? tokensPage(context, { notice: "Token revoked." });
    }),
    route("GET", "/admin/lockouts", "Usernames and addresses locked out after wrong passwords", (context) => lockoutsPage(context)),
    route("POST", "/admin/lockouts/unlock", "Lift a lock-out", async (context) => {
      let notice = "";
      const failed = await attempt(
        async () => {
          const kind = field(context, "kind");
          const subject = field(context, "subject");
          if ((kind !== "user" && kind !== "address") || !subject || subject.length > 128)
            throw new EndpointError("invalid_input", 422, "choose a lock-out from the list");
          const { db } = context.services;
          const lifted = kind === "user" ? await unlockUsername(db, actor(context), subject) : await unlockAddress(db, actor(context), subject);
          notice = lifted ? `${kind === "user" ? "User" : "Address"} '${subject}' unlocked.` : `'${subject}' was not locked out.`;
        },
        (error) => lockoutsPage(context, { error: error.message }, error.status),
      );
      return failed ?? lockoutsPage(context, { notice });
    }),
    route("GET", "/admin/audit", "The audit log, newest first", async (context) => {
      const page = pageNumber(context);
      const audit = await listAudit(context.services.db, { limit: PER_PAGE, offset: (page - 1) * PER_PAGE });
      return html(AuditLogPage({ ...frame(context), audit, page, perPage: PER_PAGE }));
    }),
  ];
}
