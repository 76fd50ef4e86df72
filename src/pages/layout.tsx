/** @jsxImportSource @kitajs/html */
// The one layout every page shares. Children arrive already rendered (and escaped by their authors);
// everything this file prints from data goes through `safe`.
import type { Principal } from "../auth/principal.ts";

export interface LayoutProps {
  title: string;
  principal?: Principal | null;
  /** The session's CSRF token: with it, the header offers a sign-out button (a POST form). */
  csrfToken?: string | null;
  /** The caller is a member of the configured admin group (auth.admin_group): the header links to /admin. */
  isAdmin?: boolean;
  /**
   * Nobody knows yet who is calling (an error page for a failure that came before authentication): the header
   * offers a link to the account page, which signs in whoever is not, rather than a "Sign in" that may be wrong.
   */
  callerUnknown?: boolean;
  children?: JSX.Element | JSX.Element[];
}

export function Layout({ title, principal, csrfToken, isAdmin, callerUnknown, children }: LayoutProps): JSX.Element {
  return (
    <>
      {"<!doctype html>"}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title safe>{title} · Endpoint</title>
          <link rel="icon" href="data:," />
          <link rel="stylesheet" href="/static/endpoint.css" />
          <script src="/static/endpoint.js" defer></script>
        </head>
        <body>
          <header class="top">
            <a class="brand" href="/">
              Endpoint
            </a>
            <nav>
              {principal ? (
                <>
                  {isAdmin ? (
                    <a class="admin-link" href="/admin">
                      Admin
                    </a>
                  ) : (
                    ""
                  )}
                  <a class="who" href="/account" safe>
                    {principal.username}
                  </a>
                  {csrfToken ? (
                    <form method="post" action="/logout" class="inline">
                      <input type="hidden" name="_csrf" value={csrfToken} />
                      <button type="submit">Sign out</button>
                    </form>
                  ) : (
                    ""
                  )}
                </>
              ) : callerUnknown ? (
                <a href="/account">Your account</a>
              ) : (
                <a href="/login">Sign in</a>
              )}
            </nav>
          </header>
          <main>{children as "safe"}</main>
        </body>
      </html>
    </>
  );
}
