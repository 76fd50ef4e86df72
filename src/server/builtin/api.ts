// The REST API: users, groups, memberships and tokens over HTTP, for scripts. JSON in and out, problem+json
// errors with per-field messages, list endpoints paged. Admin group only, except /api/me and a user's own tokens.
import type { TProperties, TSchema } from "@sinclair/typebox";
import { t } from "elysia";
import type { Actor } from "../../accounts/audit.ts";
import { addMember, createGroup, describeGroup, listGroups, removeGroup, removeMember } from "../../accounts/groups.ts";
import { resetMfa } from "../../accounts/mfa.ts";
import { MAX_RESET_EXPIRY_SECONDS, createResetLink } from "../../accounts/password-resets.ts";
import { USERNAME_PATTERN } from "../../accounts/names.ts";
import { accountRules } from "../../accounts/rules.ts";
import { findToken, listTokens, revokeToken, seesAllTokens } from "../../accounts/tokens.ts";
import { createUser, describeUser, listUsers, removeUser, requireUser, setDisabled, setEmail, setPassword } from "../../accounts/users.ts";
import { decide } from "../../auth/guard.ts";
import { issueToken } from "../../auth/issue-token.ts";
import type { Config } from "../../config/schema.ts";
import { EndpointError, invalid } from "../../errors.ts";
import { type HandlerContext, defineHandler } from "../../handlers/define-handler.ts";
import { type Route, type RouteSpec, builtinRoute, membersOf, signedIn } from "../route.ts";

const Name = t.String({ minLength: 1, maxLength: 64 });
const Password = t.String({ minLength: 1, maxLength: 1024 });
const Email = t.String({ maxLength: 254 });
const Paging = t.Object(
  {
    page: t.Optional(t.Integer({ minimum: 1, maximum: 100_000 })),
    per_page: t.Optional(t.Integer({ minimum: 1, maximum: 200 })),
    search: t.Optional(t.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
const UsernameParam = t.Object({ username: Name });
const GroupParam = t.Object({ name: Name });

// The answers, for the OpenAPI document (development and tests also check every plain JSON answer against them).
// Timestamps are t.Date(): a Date in the handler, an ISO 8601 string on the wire.
const Id = t.String({ format: "uuid" });
const User = t.Object({ id: Id, username: t.String(), disabled: t.Boolean(), email: t.Nullable(t.String()), groups: t.Array(t.String()), created_at: t.Date(), updated_at: t.Date() });
const Group = t.Object({ id: Id, name: t.String(), description: t.String(), members: t.Array(t.String()), declared: t.Boolean(), created_at: t.Date() });
const Token = t.Object({
  id: Id,
  owner: t.String(),
  name: t.String(),
  routes: t.Nullable(t.Array(t.String())),
  parent_id: t.Nullable(Id),
  created_at: t.Date(),
  expires_at: t.Date(),
  last_used_at: t.Nullable(t.Date()),
  revoked_at: t.Nullable(t.Date()),
});
const PageOf = (item: TSchema) => t.Object({ items: t.Array(item), total: t.Integer({ minimum: 0 }), page: t.Integer({ minimum: 1 }), per_page: t.Integer({ minimum: 1 }) });
/** A 201 answer: `"x-status"` tells the OpenAPI document which success status the handler gives. */
const Created = (properties: TProperties) => t.Object(properties, { "x-status": 201 });
/** The empty 204 answer. */
const NoContent = t.Undefined();

const apiActor = (context: Pick<HandlerContext<unknown, unknown, unknown>, "actor">): Actor => context.actor!;

const created = (value: unknown) => Response.json(value, { status: 201, headers: { "Cache-Control": "no-store" } });
const noContent = () => new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
const ok = (value: unknown) => Response.json(value, { headers: { "Cache-Control": "no-store" } });

// PUT and DELETE are idempotent, and nginx may send one again to another instance when the first answer was lost.
// So each answers a repeat as the first request was answered (or, for a PUT that finds the membership, 200 with
// the same body where the first creation was 201), writes nothing and audits nothing: the accounts functions are
// called with alreadyDone "report" and say whether they changed anything. The CLI and the pages keep refusing.
const REPEAT = { alreadyDone: "report" } as const;

function page<T>(items: T[], total: number, query: { page?: number; per_page?: number }) {
  return { items, total, page: query.page ?? 1, per_page: query.per_page ?? 50 };
}

export function apiRoutes(config: Config): Route[] {
  const rules = accountRules(config);
  const admins = membersOf([config.auth.adminGroup]);
  const callers = signedIn();
  const tokenExpiry = t.Optional(t.Integer({ minimum: 60, maximum: config.auth.tokenMaxExpirySeconds }));

  return ([
    {
      name: "api-me",
      method: "GET",
      path: "/api/me",
      access: callers,
      description: "Who you are, your groups, and the routes you may call",
      handler: defineHandler({
        signedIn: true,
        response: t.Object({
          id: Id,
          username: t.String(),
          groups: t.Array(t.String()),
          via: t.Union([t.Literal("session"), t.Literal("token")]),
          routes: t.Array(t.Object({ name: t.String(), method: t.String(), path: t.String() })),
        }),
        handle({ caller, services }) {
          const routes = services.routes
            .filter((entry) => entry.origin === "config" && decide(entry.rule, caller).outcome === "allow")
            .map((entry) => ({ name: entry.name, method: entry.method, path: entry.path }));
          return { id: caller.id, username: caller.username, groups: caller.groups, via: caller.via, routes };
        },
      }),
    },
    {
      name: "api-users-list",
      method: "GET",
      path: "/api/users",
      access: admins,
      description: "Users, paged; ?search= matches part of the username",
      handler: defineHandler({
        query: Paging,
        response: PageOf(User),
        async handle({ query, services }) {
          const perPage = query.per_page ?? 50;
          const { users, total } = await listUsers(services.db, { search: query.search, limit: perPage, offset: ((query.page ?? 1) - 1) * perPage });
          return page(users, total, query);
        },
      }),
    },
    {
      name: "api-users-create",
      method: "POST",
      path: "/api/users",
      access: admins,
      description: "Create a user",
      handler: defineHandler({
        body: t.Object({ username: Name, password: Password, email: t.Optional(t.Nullable(Email)) }, { additionalProperties: false }),
        response: Created(User.properties),
        async handle(context) {
          const { services } = context;
          return created(await createUser(services.db, apiActor(context), context.body));
        },
      }),
    },
    {
      name: "api-users-show",
      method: "GET",
      path: "/api/users/:username",
      access: admins,
      description: "A user with their groups and tokens",
      handler: defineHandler({
        params: UsernameParam,
        response: t.Object({ ...User.properties, tokens: t.Array(Token) }),
        async handle({ params, services }) {
          const { db } = services;
          const user = await describeUser(db, params.username);
          return { ...user, tokens: await listTokens(db, { username: user.username }) };
        },
      }),
    },
    {
      name: "api-users-update",
      method: "PATCH",
      path: "/api/users/:username",
      access: admins,
      description: "Disable or enable a user, set their password, or set their email (null clears it)",
      handler: defineHandler({
        params: UsernameParam,
        body: t.Object({ disabled: t.Optional(t.Boolean()), password: t.Optional(Password), email: t.Optional(t.Nullable(Email)) }, { additionalProperties: false, minProperties: 1 }),
        response: t.Object({ id: Id, username: t.String(), disabled: t.Boolean(), email: t.Nullable(t.String()) }),
        async handle(context) {
          const { services } = context;
          const { db } = services;
          const { params, body } = context;
          if (body.disabled !== undefined) await setDisabled(db, rules, apiActor(context), params.username, body.disabled);
          if (body.password !== undefined) await setPassword(db, apiActor(context), params.username, body.password);
          if (body.email !== undefined) await setEmail(db, apiActor(context), params.username, body.email);
          const user = await requireUser(db, params.username);
          return { id: user.id, username: user.username, disabled: user.disabled, email: user.email };
        },
      }),
    },
    {
      name: "api-users-delete",
      method: "DELETE",
      path: "/api/users/:username",
      access: admins,
      description: "Delete a user with their memberships, sessions and tokens; repeated, 204 again",
      handler: defineHandler({
        params: UsernameParam,
        response: NoContent,
        async handle(context) {
          const { services } = context;
          // A user deleted lately (the first DELETE) is 204 again; a name never there stays 404.
          await removeUser(services.db, rules, apiActor(context), context.params.username, REPEAT);
          return noContent();
        },
      }),
    },
    {
      name: "api-users-reset-link",
      method: "POST",
      path: "/api/users/:username/reset-link",
      access: admins,
      description: "Make a one-time password-reset link for a user: its URL is in this answer only (expires_in: seconds, default 3600)",
      handler: defineHandler({
        params: UsernameParam,
        query: t.Object({ expires_in: t.Optional(t.Integer({ minimum: 1, maximum: MAX_RESET_EXPIRY_SECONDS })) }, { additionalProperties: false }),
        response: Created({ username: t.String(), url: t.String(), expires_at: t.Date() }),
        async handle(context) {
          const link = await createResetLink(context.services.db, apiActor(context), context.params.username, {
            publicUrl: config.server.publicUrl,
            expiresInSeconds: context.query.expires_in,
          });
          return created({ username: link.username, url: link.url, expires_at: link.expiresAt });
        },
      }),
    },
    {
      name: "api-users-mfa-reset",
      method: "DELETE",
      path: "/api/users/:username/mfa",
      access: admins,
      description: "Reset a user's two-step sign-in (authenticator and recovery codes): 204, also when there was none",
      handler: defineHandler({
        params: UsernameParam,
        response: NoContent,
        async handle(context) {
          await resetMfa(context.services.db, apiActor(context), context.params.username);
          return noContent();
        },
      }),
    },
    {
      name: "api-groups-list",
      method: "GET",
      path: "/api/groups",
      access: admins,
      description: "Groups with their members",
      handler: defineHandler({
        query: Paging,
        response: PageOf(Group),
        async handle({ query, services }) {
          const all = await listGroups(services.db, rules);
          const matching = query.search ? all.filter((g) => g.name.includes(query.search!.toLowerCase())) : all;
          const perPage = query.per_page ?? 50;
          const start = ((query.page ?? 1) - 1) * perPage;
          return page(matching.slice(start, start + perPage), matching.length, query);
        },
      }),
    },
    {
      name: "api-groups-create",
      method: "POST",
      path: "/api/groups",
      access: admins,
      description: "Create a group",
      handler: defineHandler({
        body: t.Object({ name: Name, description: t.Optional(t.String({ maxLength: 500 })) }, { additionalProperties: false }),
        response: Created(t.Omit(Group, ["declared"]).properties),
        async handle(context) {
          const { services } = context;
          return created(await createGroup(services.db, apiActor(context), context.body));
        },
      }),
    },
    {
      name: "api-groups-show",
      method: "GET",
      path: "/api/groups/:name",
      access: admins,
      description: "A group with its members",
      handler: defineHandler({
        params: GroupParam,
        response: Group,
        async handle({ params, services }) {
          return describeGroup(services.db, rules, params.name);
        },
      }),
    },
    {
      name: "api-groups-delete",
      method: "DELETE",
      path: "/api/groups/:name",
      access: admins,
      description: "Delete a group and its memberships; repeated, 204 again",
      handler: defineHandler({
        params: GroupParam,
        response: NoContent,
        async handle(context) {
          const { services } = context;
          await removeGroup(services.db, rules, apiActor(context), context.params.name, REPEAT);
          return noContent();
        },
      }),
    },
    {
      name: "api-members-add",
      method: "PUT",
      path: "/api/groups/:name/members/:username",
      access: admins,
      description: "Put a user in a group: 201, or 200 when they already are a member",
      handler: defineHandler({
        params: t.Object({ name: Name, username: Name }),
        response: t.Object({ group: t.String(), username: t.String() }, { "x-status": [201, 200] }),
        async handle(context) {
          const { services } = context;
          const { changed, group, username } = await addMember(services.db, rules, apiActor(context), context.params.name, context.params.username, REPEAT);
          // RFC 9110: a PUT that creates answers 201; one that finds the membership there, 200 (same body).
          return changed ? created({ group, username }) : ok({ group, username });
        },
      }),
    },
    {
      name: "api-members-remove",
      method: "DELETE",
      path: "/api/groups/:name/members/:username",
      access: admins,
      description: "Take a user out of a group: 204, also when they are not a member",
      handler: defineHandler({
        params: t.Object({ name: Name, username: Name }),
        response: NoContent,
        async handle(context) {
          const { services } = context;
          await removeMember(services.db, rules, apiActor(context), context.params.name, context.params.username, REPEAT);
          return noContent();
        },
      }),
    },
    {
      name: "api-tokens-list",
      method: "GET",
      path: "/api/tokens",
      access: callers,
      description: "Tokens (an admin sees all, anyone else their own); never the tokens themselves",
      handler: defineHandler({
        query: Paging,
        signedIn: true,
        response: PageOf(Token),
        async handle({ query, caller, actor, services }) {
          const all = await listTokens(services.db, seesAllTokens(rules, actor) ? {} : { username: caller.username });
          const perPage = query.per_page ?? 50;
          const start = ((query.page ?? 1) - 1) * perPage;
          return page(all.slice(start, start + perPage), all.length, query);
        },
      }),
    },
    {
      name: "api-tokens-create",
      method: "POST",
      path: "/api/tokens",
      access: callers,
      description: "Create a token (for yourself; an admin may name another owner); shown once in the answer",
      handler: defineHandler({
        body: t.Object(
          {
            name: t.String({ minLength: 1, maxLength: 64 }),
            username: t.Optional(Name),
            expires_in_seconds: tokenExpiry,
            routes: t.Optional(t.Array(t.String({ maxLength: 64 }), { maxItems: 100 })),
          },
          { additionalProperties: false },
        ),
        response: Created({ ...Token.properties, token: t.String({ description: "The token itself (ept_…), shown this once" }) }),
        async handle(context) {
          const { services } = context;
          const { body, caller } = context;
          const owner = body.username ?? caller!.username;
          if (!USERNAME_PATTERN.test(owner)) throw invalid("invalid_username", "username is not valid", [{ path: "/body/username", message: "not a valid username" }]);
          const { db, codec, routes } = services;
          const { token, summary } = await issueToken(db, codec, rules, apiActor(context), {
            username: owner,
            name: body.name,
            expiresInSeconds: body.expires_in_seconds,
            defaultExpirySeconds: config.auth.tokenDefaultExpirySeconds,
            maxExpirySeconds: config.auth.tokenMaxExpirySeconds,
            routes: body.routes,
            knownRoutes: routes.map((entry) => entry.name),
          });
          return created({ ...summary, token });
        },
      }),
    },
    {
      name: "api-tokens-show",
      method: "GET",
      path: "/api/tokens/:id",
      access: callers,
      description: "One token's record (yours, or any for an admin)",
      handler: defineHandler({
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        response: Token,
        async handle({ params, actor, services }) {
          return findToken(services.db, rules, actor!, params.id);
        },
      }),
    },
    {
      name: "api-tokens-revoke",
      method: "DELETE",
      path: "/api/tokens/:id",
      access: callers,
      description: "Revoke a token (yours, or any for an admin): 204, also when already revoked",
      handler: defineHandler({
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        response: NoContent,
        async handle(context) {
          const { services } = context;
          try {
            services.cache.forgetTokens(await revokeToken(services.db, rules, apiActor(context), context.params.id));
          } catch (error) {
            // Already revoked (by the first DELETE, or another): the same 204, and no second audit row. Someone
            // else's token or an unknown id is still 404, found before this.
            if (!(error instanceof EndpointError && error.code === "token_revoked")) throw error;
          }
          return noContent();
        },
      }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
