/** @jsxImportSource @kitajs/html */
// Pieces several pages share: the success/error messages, a token shown once, and a table of tokens (in a box that
// scrolls sideways on a narrow screen, so the page itself never does).
import { escapeHtml } from "@kitajs/html";
import type { TokenSummary } from "../accounts/tokens.ts";

/** A timestamp as pages show it (UTC, to the minute). */
export const when = (date: Date | null) => (date ? date.toISOString().slice(0, 16).replace("T", " ") : "—");

export function Messages({ notice, error }: { notice?: string; error?: string }): JSX.Element {
  return (
    <>
      {notice ? (
        <p class="notice" role="status" safe>
          {notice}
        </p>
      ) : (
        ""
      )}
      {error ? (
        <p class="alert" role="alert" safe>
          {error}
        </p>
      ) : (
        ""
      )}
    </>
  );
}

/** A token just created: shown this once, with a copy button. */
export function TokenOnce({ token }: { token?: string }): JSX.Element {
  if (!token) return "";
  return (
    <section class="token-once">
      <p>The new token. Copy it now: it will not be shown again.</p>
      <input class="token" readonly value={token} aria-label="New API token" />
      <button type="button" data-copy="input.token">
        Copy
      </button>
    </section>
  );
}

/** Tokens with owner, scope, dates and state; `revoke` renders the way to revoke one that is still valid. */
export function TokenTable({ tokens, revoke, showOwner = true }: { tokens: TokenSummary[]; revoke: (token: TokenSummary) => JSX.Element; showOwner?: boolean }): JSX.Element {
  if (tokens.length === 0) return <p class="muted">No tokens.</p>;
  return (
    <div class="table-scroll">
      <table>
        <thead>
          <tr>
            {showOwner ? <th>Owner</th> : ""}
            <th>Name</th>
            <th>Routes</th>
            <th>Created</th>
            <th>Expires</th>
            <th>Last used</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((token) => (
            <tr>
              {showOwner ? <td safe>{token.owner}</td> : ""}
              <td class="long" safe>{token.name}</td>
              <td class="long">{escapeHtml(token.routes ? token.routes.join(", ") : "any")}</td>
              <td class="when" safe>{when(token.created_at)}</td>
              <td class="when" safe>{when(token.expires_at)}</td>
              <td class="when" safe>{when(token.last_used_at)}</td>
              <td>{token.revoked_at ? "revoked" : (revoke(token) as "safe")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
