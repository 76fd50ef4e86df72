// First run: while the database has no user at all, the server prints a one-time link at start-up that lets the
// person at the console create the first administrator. The link's token lives only in this process's memory
// (never in the database or the log beyond that one line) and stops working once used, or once any user exists.
import { addMember, createGroup, findGroup } from "../../accounts/groups.ts";
import { accountRules } from "../../accounts/rules.ts";
import { createUser } from "../../accounts/users.ts";
import { sessionCookie } from "../../auth/cookies.ts";
import { foreignOrigin } from "../../auth/csrf.ts";
import { createSession } from "../../auth/sessions.ts";
import type { Config } from "../../config/schema.ts";
import { EndpointError } from "../../errors.ts";
import { defineHandler } from "../../handlers/define-handler.ts";
import { html } from "../../handlers/html.ts";
import { SetupPage } from "../../pages/setup-page.tsx";
import { type Route, type RouteSpec, builtinRoute, anyone } from "../route.ts";

const notAvailable = () => new EndpointError("not_found", 404, "there is nothing at this address");

export function setupRoutes(config: Config): Route[] {
  const open = anyone(["session"]);
  const page = (token: string, status: number, error?: string, username?: string) =>
    html(SetupPage({ token, error, username }), status, { "Cache-Control": "no-store" });
  return ([
    {
      name: "setup-page",
      method: "GET",
      path: "/setup",
      access: open,
      description: "First run only: the form that creates the first administrator",
      handler: defineHandler({
        handle({ request, services }) {
          const token = new URL(request.url).searchParams.get("token");
          if (!services.setupLink.matches(token)) throw notAvailable();
          return page(token!, 200);
        },
      }),
    },
    {
      name: "setup",
      method: "POST",
      path: "/setup",
      access: open,
      description: "First run only: create the first administrator and sign them in",
      handler: defineHandler({
        async handle({ request, form, log, clientAddress, services }) {
          const { db, setupLink: link } = services;
          const token = form?.get("token");
          if (!link.matches(token)) throw notAvailable();
          if (foreignOrigin(request, services.origins.expectedFor(request))) throw new EndpointError("csrf_failed", 403, "this form did not come from this site");
          let username = "";
          let password = "";
          try {
            username = form?.get("username")?.trim() ?? "";
            password = form?.get("password") ?? "";
            if (password !== form?.get("repeat")) return page(token!, 422, "The two passwords differ.", username);
          } catch (error) {
            // A field PostgreSQL would refuse (NUL): the form again, with the reason.
            if (error instanceof EndpointError) return page(token!, error.status, error.message);
            throw error;
          }
          if (await db.selectFrom("users").select("id").limit(1).executeTakeFirst()) {
            link.consume();
            throw notAvailable();
          }
          // Whoever holds the one-time link is the machine's administrator, as at the CLI.
          const actor = { name: "setup", source: "web" as const, clientAddress, recentlyAuthenticated: true };
          try {
            await createUser(db, actor, { username, password });
          } catch (error) {
            if (error instanceof EndpointError && error.status === 422) return page(token!, 422, error.message, username);
            throw error;
          }
          link.consume();
          if (!(await findGroup(db, config.auth.adminGroup))) await createGroup(db, actor, { name: config.auth.adminGroup, description: "Administrators of this Endpoint" });
          await addMember(db, accountRules(config), actor, config.auth.adminGroup, username);
          const user = (await db.selectFrom("users").select("id").executeTakeFirstOrThrow()).id;
          const session = await createSession(db, user, { clientAddress, userAgent: request.headers.get("user-agent") });
          log.info("setup_done", { username });
          return new Response(null, { status: 303, headers: { Location: "/", "Set-Cookie": sessionCookie(config, session.cookieValue), "Cache-Control": "no-store" } });
        },
      }),
    },
  ] satisfies RouteSpec[]).map(builtinRoute);
}
