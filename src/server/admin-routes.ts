// The admin pages (members of the admin group, by session): users, groups, tokens and the audit log, doing in
// the browser what the CLI does, through the same functions. A failed action re-renders its page with the
// reason; destructive actions ask for confirmation first.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import { listAudit } from "../admin/audit.ts";
import { addMember, createGroup, listGroups, removeGroup, removeMember } from "../admin/groups.ts";
import { createUser, listUsers, removeUser, requireUser, setDisabled, setPassword } from "../admin/users.ts";
import { type TokenCodec, createToken, listTokens, revokeToken } from "../auth/tokens.ts";
import type { Config } from "../config/schema.ts";
import { EndpointError } from "../errors.ts";
import { type HandlerContext, defineHandler } from "../handlers/define-handler.ts";
import { html } from "../handlers/html.ts";
import { type AdminFrame, AuditLogPage, ConfirmPage, GroupsPage, TokensPage, UserPage, UsersPage } from "../pages/admin-pages.tsx";
import { refuseLastAdmin } from "./api-routes.ts";
import type { BuiltinRoute, RouteEntry } from "./route-table.ts";

export interface AdminServices {
  db: Kysely<Database>;
  codec: TokenCodec;
  table: () => readonly RouteEntry[];
}

type Context = HandlerContext<any, any, any>;
const PER_PAGE = 50;

export function adminRoutes(config: Config, services: () => AdminServices): BuiltinRoute[] {
  const rule = { public: false, groups: [config.auth.adminGroup], accepts: ["session"] } as const;
  const frame = (context: Context, extra: Partial<AdminFrame> = {}): AdminFrame => ({ principal: context.principal!, csrfToken: context.session!.csrfToken, ...extra });
  const actor = (context: Context) => ({ name: context.principal!.username, source: "web" as const, clientAddress: context.clientAddress ?? null });
  const pageNumber = (context: Context) => {
    const raw = new URL(context.request.url).searchParams.get("page");
    const page = raw && /^\d{1,6}$/.test(raw) ? Number(raw) : 1;
    return Math.max(1, page);
  };

  const usersPage = async (context: Context, extra: Partial<AdminFrame> = {}, status = 200) => {
    const search = (new URL(context.request.url).searchParams.get("search") ?? "").slice(0, 64);
    const page = pageNumber(context);
    const { users, total } = await listUsers(services().db, { search: search || undefined, limit: PER_PAGE, offset: (page - 1) * PER_PAGE });
    return html(UsersPage({ ...frame(context, extra), users, total, page, perPage: PER_PAGE, search }), status);
  };
  const userPage = async (context: Context, username: string, extra: Partial<AdminFrame> & { newToken?: string } = {}, status = 200) => {
    const { db } = services();
    const found = await requireUser(db, username);
    const summary = (await listUsers(db, { search: found.username, limit: 1000 })).users.find((u) => u.id === found.id)!;
    return html(UserPage({ ...frame(context, extra), user: summary, tokens: await listTokens(db, { username: found.username }), newToken: extra.newToken }), status);
  };
  const groupsPage = async (context: Context, extra: Partial<AdminFrame> = {}, status = 200) =>
    html(GroupsPage({ ...frame(context, extra), groups: await listGroups(services().db) }), status);
  const tokensPage = async (context: Context, extra: Partial<AdminFrame> = {}, status = 200) =>
    html(TokensPage({ ...frame(context, extra), tokens: await listTokens(services().db) }), status);

  /** Run an action; an expected failure re-renders `onFailure` with its message and status. */
  const attempt = async (action: () => Promise<unknown>, onFailure: (error: EndpointError) => Promise<unknown>) => {
    try {
      await action();
      return null;
    } catch (error) {
      if (error instanceof EndpointError && error.status < 500) return onFailure(error);
      throw error;
    }
  };

  const route = (method: "GET" | "POST", path: string, description: string, handle: (context: Context) => unknown): BuiltinRoute => ({
    name: `admin${path.replace(/^\/admin/, "").replace(/[/:]+/g, "-") || "-home"}${method === "POST" ? "-post" : ""}`,
    method,
    path,
    rule,
    description,
    handler: defineHandler({ handle }),
  });

  return [
    route("GET", "/admin", "Admin home: the users page", () => new Response(null, { status: 303, headers: { Location: "/admin/users" } })),
    route("GET", "/admin/users", "Users: search, page, create", (context) => usersPage(context)),
    route("POST", "/admin/users", "Create a user", async (context) => {
      const username = context.form?.get("username")?.trim() ?? "";
      const failed = await attempt(
        () => createUser(services().db, actor(context), { username, password: context.form?.get("password") ?? "" }),
        (error) => usersPage(context, { error: error.message }, error.status),
      );
      return failed ?? usersPage(context, { notice: `User '${username}' created.` }, 201);
    }),
    route("GET", "/admin/users/:username", "A user: groups, tokens, actions", (context) => userPage(context, context.params.username)),
    route("POST", "/admin/users/:username/disable", "Disable a user", async (context) => {
      const { username } = context.params;
      const failed = await attempt(
        async () => {
          await refuseLastAdmin(services().db, config, username);
          await setDisabled(services().db, actor(context), username, true);
        },
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "User disabled; their sessions have ended." });
    }),
    route("POST", "/admin/users/:username/enable", "Enable a user", async (context) => {
      await setDisabled(services().db, actor(context), context.params.username, false);
      return userPage(context, context.params.username, { notice: "User enabled." });
    }),
    route("POST", "/admin/users/:username/password", "Set a user's password", async (context) => {
      const { username } = context.params;
      const failed = await attempt(
        () => setPassword(services().db, actor(context), username, context.form?.get("password") ?? ""),
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "Password set; their sessions have ended and their tokens were revoked." });
    }),
    route("POST", "/admin/users/:username/tokens", "Create a token for a user (shown once)", async (context) => {
      const { username } = context.params;
      let token = "";
      const failed = await attempt(
        async () => {
          const { db, codec, table } = services();
          token = (await createToken(db, codec, actor(context), { username, name: context.form?.get("name")?.trim() ?? "", expiresInSeconds: config.auth.tokenDefaultExpirySeconds, knownRoutes: table().map((e) => e.name) })).token;
        },
        (error) => userPage(context, username, { error: error.message }, error.status),
      );
      return failed ?? userPage(context, username, { notice: "Token created.", newToken: token });
    }),
    route("GET", "/admin/users/:username/delete", "Confirm deleting a user", async (context) => {
      const user = await requireUser(services().db, context.params.username);
      const base = `/admin/users/${encodeURIComponent(user.username)}`;
      return html(ConfirmPage({ ...frame(context), question: `Delete user '${user.username}' with their memberships, sessions and tokens?`, action: `${base}/delete`, back: base }));
    }),
    route("POST", "/admin/users/:username/delete", "Delete a user", async (context) => {
      const { username } = context.params;
      const failed = await attempt(
        async () => {
          await requireUser(services().db, username);
          await refuseLastAdmin(services().db, config, username);
          await removeUser(services().db, actor(context), username);
        },
        (error) => usersPage(context, { error: error.message }, error.status),
      );
      return failed ?? usersPage(context, { notice: `User '${username}' deleted.` });
    }),
    route("GET", "/admin/groups", "Groups and members", (context) => groupsPage(context)),
    route("POST", "/admin/groups", "Create a group", async (context) => {
      const name = context.form?.get("name")?.trim() ?? "";
      const failed = await attempt(
        () => createGroup(services().db, actor(context), { name, description: context.form?.get("description") ?? "" }),
        (error) => groupsPage(context, { error: error.message }, error.status),
      );
      return failed ?? groupsPage(context, { notice: `Group '${name}' created.` }, 201);
    }),
    route("POST", "/admin/groups/:name/members", "Add a member", async (context) => {
      const username = context.form?.get("username")?.trim() ?? "";
      const failed = await attempt(
        () => addMember(services().db, actor(context), context.params.name, username),
        (error) => groupsPage(context, { error: error.message }, error.status),
      );
      return failed ?? groupsPage(context, { notice: `'${username}' added to '${context.params.name}'.` });
    }),
    route("POST", "/admin/groups/:name/members/remove", "Remove a member", async (context) => {
      const username = context.form?.get("username") ?? "";
      const failed = await attempt(
        async () => {
          if (context.params.name.toLowerCase() === config.auth.adminGroup) await refuseLastAdmin(services().db, config, username);
          await removeMember(services().db, actor(context), context.params.name, username);
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
        async () => {
          if (name.toLowerCase() === config.auth.adminGroup) throw new EndpointError("admin_group", 409, `group '${config.auth.adminGroup}' administers Endpoint and cannot be deleted here`);
          await removeGroup(services().db, actor(context), name);
        },
        (error) => groupsPage(context, { error: error.message }, error.status),
      );
      return failed ?? groupsPage(context, { notice: `Group '${name}' deleted.` });
    }),
    route("GET", "/admin/tokens", "All tokens", (context) => tokensPage(context)),
    route("GET", "/admin/tokens/:id/revoke", "Confirm revoking a token", async (context) => {
      const token = (await listTokens(services().db)).find((t) => t.id === context.params.id);
      if (!token) throw new EndpointError("token_not_found", 404, "this token does not exist");
      return html(
        ConfirmPage({ ...frame(context), question: `Revoke token '${token.name}' of '${token.owner}'? Whatever uses it will be refused.`, action: "/admin/tokens/revoke", back: "/admin/tokens", fields: { id: token.id }, confirm: "Yes, revoke" }),
      );
    }),
    route("POST", "/admin/tokens/revoke", "Revoke a token", async (context) => {
      const failed = await attempt(
        () => revokeToken(services().db, actor(context), context.form?.get("id") ?? ""),
        (error) => tokensPage(context, { error: error.message }, error.status),
      );
      return failed ?? tokensPage(context, { notice: "Token revoked." });
    }),
    route("GET", "/admin/audit", "The audit log, newest first", async (context) => {
      const page = pageNumber(context);
      const audit = await listAudit(services().db, { limit: PER_PAGE, offset: (page - 1) * PER_PAGE });
      return html(AuditLogPage({ ...frame(context), audit, page, perPage: PER_PAGE }));
    }),
  ];
}
