/** @jsxImportSource @kitajs/html */
// The account page every signed-in user has: their groups, the routes they may call, a password change form,
// their sessions (end one, or all) and their own API tokens. Forms work without JavaScript and carry the session's
// CSRF token.
import { escapeHtml } from "@kitajs/html";
import type { Principal } from "../auth/principal.ts";
import type { SessionSummary } from "../auth/sessions.ts";
import type { TokenSummary } from "../accounts/tokens.ts";
import { Layout } from "./layout.tsx";
import { Messages, TokenOnce, TokenTable, when } from "./parts.tsx";
import { type EnrolmentProps, MfaSection } from "./mfa-pages.tsx";

export interface AccountPageProps {
  principal: Principal;
  csrfToken: string;
  /** A member of the configured admin group: the header links to /admin. */
  isAdmin: boolean;
  routes: Array<{ name: string; method: string; path: string }>;
  sessions: SessionSummary[];
  tokens: TokenSummary[];
  notice?: string;
  error?: string;
  /** A token just created: shown this once. */
  newToken?: string;
  /** Two-step sign-in: whether it is on; the enrolment panel while turning it on; new recovery codes, this once. */
  mfa: { enrolled: boolean; recoveryCodesLeft: number };
  enrolment?: EnrolmentProps;
  recoveryCodes?: string[];
}

export function AccountPage({ principal, csrfToken, isAdmin, routes, sessions, tokens, notice, error, newToken, mfa, enrolment, recoveryCodes }: AccountPageProps): JSX.Element {
  return (
    <Layout title="Your account" principal={principal} csrfToken={csrfToken} isAdmin={isAdmin}>
      <h1 safe>{principal.username}</h1>
      <Messages notice={notice} error={error} />
      <TokenOnce token={newToken} />
      <h2>Groups</h2>
      <p>{escapeHtml(principal.groups.length ? principal.groups.join(", ") : "You are in no group.")}</p>
      <h2>Routes you may call</h2>
      <ul>
        {routes.map((route) => (
          <li>
            <code safe>{`${route.method} ${route.path}`}</code> <span class="muted" safe>{route.name}</span>
          </li>
        ))}
      </ul>
      <h2>Change your password</h2>
      <form class="stack" method="post" action="/account/password">
        <input type="hidden" name="_csrf" value={csrfToken} />
        <label>
          Current password
          <input name="current" type="password" autocomplete="current-password" required maxlength="1024" />
        </label>
        <label>
          New password (12 characters or more)
          <input name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="128" />
        </label>
        <label>
          Repeat the new password
          <input name="repeat" type="password" autocomplete="new-password" required minlength="12" maxlength="128" />
        </label>
        <button type="submit">Change password</button>
      </form>
      <MfaSection status={mfa} enrolment={enrolment} recoveryCodes={recoveryCodes} csrfToken={csrfToken} />
      <h2>Where you are signed in</h2>
      <SessionTable sessions={sessions} csrfToken={csrfToken} />
      <form method="post" action="/logout/everywhere" class="inline">
        <input type="hidden" name="_csrf" value={csrfToken} />
        <button type="submit" class="danger">
          Sign out everywhere
        </button>
      </form>{" "}
      <span class="muted">Ends every session above, this one included.</span>
      <h2>Your API tokens</h2>
      <TokenTable
        tokens={tokens}
        showOwner={false}
        revoke={(token) => (
          <details>
            <summary>Revoke…</summary>
            <form method="post" action="/account/tokens/revoke" class="inline">
              <input type="hidden" name="_csrf" value={csrfToken} />
              <input type="hidden" name="id" value={token.id} />
              <button type="submit" class="danger">
                Yes, revoke it
              </button>
            </form>
          </details>
        )}
      />
      <form class="stack" method="post" action="/account/tokens">
        <input type="hidden" name="_csrf" value={csrfToken} />
        <label>
          New token's name
          <input name="name" required maxlength="64" placeholder="e.g. ci-deploy" />
        </label>
        <label>
          Expires in
          <select name="days">
            <option value="7">7 days</option>
            <option value="30">30 days</option>
            <option value="90" selected>
              90 days
            </option>
            <option value="365">365 days</option>
          </select>
        </label>
        <button type="submit">Create token</button>
      </form>
    </Layout>
  );
}

/** The user's sessions, each with an End button; the one this page was asked for is marked. */
function SessionTable({ sessions, csrfToken }: { sessions: SessionSummary[]; csrfToken: string }): JSX.Element {
  return (
    <div class="table-scroll">
      <table>
        <thead>
          <tr>
            <th>Signed in</th>
            <th>Last seen</th>
            <th>Address</th>
            <th>Browser</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {sessions.map((session) => (
            <tr>
              <td class="when" safe>{when(session.createdAt)}</td>
              <td class="when" safe>{when(session.lastSeenAt)}</td>
              <td safe>{session.clientAddress ?? "—"}</td>
              <td class="long" safe>{session.userAgent ?? "—"}</td>
              <td>
                {session.current ? <span class="tag">this one</span> : ""}{" "}
                <form method="post" action="/account/sessions/end" class="inline">
                  <input type="hidden" name="_csrf" value={csrfToken} />
                  <input type="hidden" name="session" value={session.handle} />
                  <button type="submit" title={session.current ? "Ends this session: you will be signed out" : "Ends that session"}>
                    End
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
