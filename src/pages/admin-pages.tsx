/** @jsxImportSource @kitajs/html */
// The admin pages: users, groups, tokens and the audit log. Plain forms (no JavaScript needed); destructive
// actions go through a confirmation page; everything shown from data is escaped.
import { escapeHtml } from "@kitajs/html";
import type { AuditPage } from "../accounts/audit.ts";
import type { GroupSummary } from "../accounts/groups.ts";
import type { MfaStatus } from "../accounts/mfa.ts";
import type { UserSummary } from "../accounts/users.ts";
import type { Principal } from "../auth/principal.ts";
import type { TokenSummary } from "../accounts/tokens.ts";
import type { Lockout } from "../auth/throttle.ts";
import { Layout } from "./layout.tsx";
import { Messages, TokenOnce, TokenTable, when } from "./parts.tsx";

export interface AdminFrame {
  principal: Principal;
  csrfToken: string;
  /** Whether the header links to /admin: always so for the admin group's members, the only ones who see these pages. */
  isAdmin: boolean;
  notice?: string;
  error?: string;
}

const revokeLink = (token: TokenSummary) => <a href={`/admin/tokens/${encodeURIComponent(token.id)}/revoke`}>Revoke…</a>;

function Nav(): JSX.Element {
  return (
    <p class="admin-nav">
      <a href="/admin/users">Users</a> · <a href="/admin/groups">Groups</a> · <a href="/admin/tokens">Tokens</a> · <a href="/admin/lockouts">Lock-outs</a> · <a href="/admin/audit">Audit log</a>
    </p>
  );
}

function Csrf({ token }: { token: string }): JSX.Element {
  return <input type="hidden" name="_csrf" value={token} />;
}

export function UsersPage(props: AdminFrame & { users: UserSummary[]; total: number; page: number; perPage: number; search: string }): JSX.Element {
  const { users, total, page, perPage, search } = props;
  const query = (p: number) => `/admin/users?page=${p}${search ? `&search=${encodeURIComponent(search)}` : ""}`;
  return (
    <Layout title="Users" principal={props.principal} csrfToken={props.csrfToken} isAdmin={props.isAdmin}>
      <h1>Users</h1>
      <Nav />
      <Messages notice={props.notice} error={props.error} />
      <form method="get" action="/admin/users" class="inline">
        <input name="search" value={search} placeholder="Search usernames" maxlength="64" />
        <button type="submit">Search</button>
      </form>
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th>Username</th>
              <th>Status</th>
              <th>Groups</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr>
                <td>
                  <a href={`/admin/users/${encodeURIComponent(user.username)}`} safe>
                    {user.username}
                  </a>
                </td>
                <td>{user.disabled ? "disabled" : "active"}</td>
                <td class="long">{escapeHtml(user.groups.join(", ") || "—")}</td>
                <td class="when" safe>{when(user.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="muted">
        {escapeHtml(`${total} user${total === 1 ? "" : "s"}`)} {page > 1 ? <a href={query(page - 1)}>Previous</a> : ""}{" "}
        {page * perPage < total ? <a href={query(page + 1)}>Next</a> : ""}
      </p>
      <h2>New user</h2>
      <form class="stack" method="post" action="/admin/users">
        <Csrf token={props.csrfToken} />
        <label>
          Username
          <input name="username" required maxlength="64" />
        </label>
        <label>
          Password (12 characters or more)
          <input name="password" type="password" required minlength="12" maxlength="128" autocomplete="new-password" />
        </label>
        <label>
          E-mail address (optional; where password-reset links are sent)
          <input name="email" type="email" maxlength="254" autocomplete="off" />
        </label>
        <button type="submit">Create user</button>
      </form>
    </Layout>
  );
}

export function UserPage(props: AdminFrame & { user: UserSummary; tokens: TokenSummary[]; mfa: MfaStatus; newToken?: string; resetLink?: string }): JSX.Element {
  const { user, tokens } = props;
  const base = `/admin/users/${encodeURIComponent(user.username)}`;
  return (
    <Layout title={user.username} principal={props.principal} csrfToken={props.csrfToken} isAdmin={props.isAdmin}>
      <h1 safe>{user.username}</h1>
      <Nav />
      <Messages notice={props.notice} error={props.error} />
      <TokenOnce token={props.newToken} />
      <p>
        Status: {user.disabled ? "disabled" : "active"}. Groups: {escapeHtml(user.groups.join(", ") || "none")}. E-mail:{" "}
        {escapeHtml(user.email ?? "none")}.
      </p>
      <form method="post" action={`${base}/${user.disabled ? "enable" : "disable"}`} class="inline">
        <Csrf token={props.csrfToken} />
        <button type="submit">{user.disabled ? "Enable" : "Disable"}</button>
      </form>{" "}
      <a href={`${base}/delete`}>Delete…</a>
      <h2>Set password</h2>
      <form class="stack" method="post" action={`${base}/password`}>
        <Csrf token={props.csrfToken} />
        <label>
          New password
          <input name="password" type="password" required minlength="12" maxlength="128" autocomplete="new-password" />
        </label>
        <button type="submit">Set password</button>
      </form>
      <h2>Password-reset link</h2>
      {props.resetLink ? (
        <section class="token-once">
          <p>The link works once, for an hour. Give it to the user now: it will not be shown again.</p>
          <input class="token" readonly value={props.resetLink} aria-label="Password-reset link" />
          <button type="button" data-copy="input.token">
            Copy
          </button>
        </section>
      ) : (
        ""
      )}
      <form method="post" action={`${base}/reset-link`} class="inline">
        <Csrf token={props.csrfToken} />
        <button type="submit">Make a reset link</button>
      </form>
      <h2>Two-step sign-in</h2>
      <p>
        {escapeHtml(
          props.mfa.enrolled
            ? `On, with ${props.mfa.recoveryCodesLeft} unused recovery code${props.mfa.recoveryCodesLeft === 1 ? "" : "s"}. Reset it when the user has lost their authenticator: they then sign in with their password alone until they set it up again.`
            : "Off.",
        )}
      </p>
      {props.mfa.enrolled ? (
        <form method="post" action={`${base}/mfa-reset`} class="inline">
          <Csrf token={props.csrfToken} />
          <button type="submit">Reset two-step sign-in</button>
        </form>
      ) : (
        ""
      )}
      <h2>E-mail address</h2>
      <form class="stack" method="post" action={`${base}/email`}>
        <Csrf token={props.csrfToken} />
        <label>
          E-mail address (empty to clear)
          <input name="email" type="email" maxlength="254" autocomplete="off" value={user.email ?? ""} />
        </label>
        <button type="submit">Set e-mail address</button>
      </form>
      <h2>Tokens</h2>
      <TokenTable tokens={tokens} revoke={revokeLink} />
      <form class="stack" method="post" action={`${base}/tokens`}>
        <Csrf token={props.csrfToken} />
        <label>
          Token name
          <input name="name" required maxlength="64" />
        </label>
        <button type="submit">Create token</button>
      </form>
    </Layout>
  );
}

export function TokensPage(props: AdminFrame & { tokens: TokenSummary[] }): JSX.Element {
  return (
    <Layout title="Tokens" principal={props.principal} csrfToken={props.csrfToken} isAdmin={props.isAdmin}>
      <h1>Tokens</h1>
      <Nav />
      <Messages notice={props.notice} error={props.error} />
      <TokenTable tokens={props.tokens} revoke={revokeLink} />
      <p class="muted">Create a token for a user from their page.</p>
    </Layout>
  );
}

export function GroupsPage(props: AdminFrame & { groups: GroupSummary[] }): JSX.Element {
  return (
    <Layout title="Groups" principal={props.principal} csrfToken={props.csrfToken} isAdmin={props.isAdmin}>
      <h1>Groups</h1>
      <Nav />
      <Messages notice={props.notice} error={props.error} />
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th>Group</th>
              <th>Description</th>
              <th>Members</th>
              <th>Add a member</th>
            </tr>
          </thead>
          <tbody>
            {props.groups.map((group) => (
              <tr>
                <td>
                  <span safe>{group.name}</span>
                  {group.declared ? (
                    <>
                      {" "}
                      <span class="tag" title="Declared in endpoint.yaml: created at start-up, cannot be deleted here">
                        declared
                      </span>
                    </>
                  ) : (
                    ""
                  )}
                </td>
                <td class="long" safe>{group.description}</td>
                <td>
                  {group.members.map((member) => (
                    <span class="member">
                      <span safe>{member}</span>{" "}
                      <a href={`/admin/groups/${encodeURIComponent(group.name)}/members/${encodeURIComponent(member)}/remove`} title="Remove from group">
                        remove…
                      </a>{" "}
                    </span>
                  ))}
                </td>
                <td>
                  <form method="post" action={`/admin/groups/${encodeURIComponent(group.name)}/members`} class="inline">
                    <Csrf token={props.csrfToken} />
                    <input name="username" required maxlength="64" placeholder="username" />
                    <button type="submit">Add</button>
                  </form>
                  {group.declared ? "" : (
                    <>
                      {" "}
                      <a href={`/admin/groups/${encodeURIComponent(group.name)}/delete`}>Delete…</a>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>New group</h2>
      <form class="stack" method="post" action="/admin/groups">
        <Csrf token={props.csrfToken} />
        <label>
          Name
          <input name="name" required maxlength="64" />
        </label>
        <label>
          Description
          <input name="description" maxlength="500" />
        </label>
        <button type="submit">Create group</button>
      </form>
    </Layout>
  );
}

export function ConfirmPage(
  props: AdminFrame & { question: string; action: string; back: string; fields?: Record<string, string>; confirm?: string },
): JSX.Element {
  return (
    <Layout title="Confirm" principal={props.principal} csrfToken={props.csrfToken} isAdmin={props.isAdmin}>
      <h1>Are you sure?</h1>
      <p safe>{props.question}</p>
      <form method="post" action={props.action} class="inline">
        <Csrf token={props.csrfToken} />
        {Object.entries(props.fields ?? {}).map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <button type="submit" class="danger" safe>
          {props.confirm ?? "Yes, delete"}
        </button>
      </form>{" "}
      <a href={props.back}>Cancel</a>
    </Layout>
  );
}

export function AuditLogPage(props: AdminFrame & { audit: AuditPage; page: number; perPage: number }): JSX.Element {
  const { audit, page, perPage } = props;
  return (
    <Layout title="Audit log" principal={props.principal} csrfToken={props.csrfToken} isAdmin={props.isAdmin}>
      <h1>Audit log</h1>
      <Nav />
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>From</th>
              <th>What</th>
              <th>Target</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {audit.entries.map((entry) => (
              <tr>
                <td class="when" safe>{when(entry.at)}</td>
                <td safe>{entry.actor}</td>
                <td safe>{`${entry.source}${entry.client_address ? ` ${entry.client_address}` : ""}`}</td>
                <td safe>{entry.action}</td>
                <td safe>{entry.target}</td>
                <td class="long">
                  <code safe>{JSON.stringify(entry.detail)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="muted">
        {page > 1 ? <a href={`/admin/audit?page=${page - 1}`}>Newer</a> : ""} {page * perPage < audit.total ? <a href={`/admin/audit?page=${page + 1}`}>Older</a> : ""}
      </p>
    </Layout>
  );
}

export function LockoutsPage(props: AdminFrame & { lockouts: Lockout[] }): JSX.Element {
  return (
    <Layout title="Lock-outs" principal={props.principal} csrfToken={props.csrfToken} isAdmin={props.isAdmin}>
      <h1>Lock-outs</h1>
      <Nav />
      <Messages notice={props.notice} error={props.error} />
      <p class="muted">Usernames and addresses refused after too many wrong passwords. They unlock by themselves when the window ends.</p>
      {props.lockouts.length === 0 ? (
        <p>Nobody is locked out.</p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th>Kind</th>
                <th>Who</th>
                <th>Attempts</th>
                <th>Unlocks in</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {props.lockouts.map((lockout) => (
                <tr>
                  <td>{lockout.kind === "user" ? "username" : "address"}</td>
                  <td safe>{lockout.subject}</td>
                  <td safe>{String(lockout.failures)}</td>
                  <td safe>{`${Math.ceil(lockout.retry_after_seconds / 60)} min`}</td>
                  <td>
                    <form method="post" action="/admin/lockouts/unlock" class="inline">
                      <Csrf token={props.csrfToken} />
                      <input type="hidden" name="kind" value={lockout.kind} />
                      <input type="hidden" name="subject" value={lockout.subject} />
                      <button type="submit">Unlock</button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
