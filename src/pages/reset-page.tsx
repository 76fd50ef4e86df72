/** @jsxImportSource @kitajs/html */
// Password-reset pages: the form a one-time link opens, the answer once it worked, and the page for a link that
// no longer works; also the "forgot password" form of the sign-in page and its one answer.
import { Layout } from "./layout.tsx";
import { Messages } from "./parts.tsx";

export function ResetPasswordPage({ token, csrfToken, username, error }: { token: string; csrfToken: string; username: string; error?: string }): JSX.Element {
  return (
    <Layout title="Set a new password">
      <h1>Set a new password</h1>
      <p class="muted">
        For user <strong safe>{username}</strong>. This link works once; afterwards every session of this account ends and its API tokens stop working.
      </p>
      <Messages error={error} />
      <form class="stack" method="post" action="/login/reset">
        <input type="hidden" name="_csrf" value={csrfToken} />
        <input type="hidden" name="token" value={token} />
        <input type="hidden" name="username" autocomplete="username" value={username} />
        <label>
          New password (12 characters or more)
          <input name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="128" autofocus />
        </label>
        <label>
          Repeat new password
          <input name="repeat" type="password" autocomplete="new-password" required minlength="12" maxlength="128" />
        </label>
        <button type="submit">Set password</button>
      </form>
    </Layout>
  );
}

export function ResetDonePage(): JSX.Element {
  return (
    <Layout title="Password set">
      <h1>Password set</h1>
      <p>Your new password is set. Every earlier session of your account has ended.</p>
      <p>
        <a href="/login">Sign in</a>
      </p>
    </Layout>
  );
}

export function ResetRefusedPage({ reason }: { reason: string }): JSX.Element {
  return (
    <Layout title="Reset link not valid">
      <h1>This link does not work</h1>
      <p safe>{reason}</p>
      <p>
        Ask an administrator for a new link, or <a href="/login/forgot">request one by e-mail</a> if your account has an address.
      </p>
    </Layout>
  );
}

export function ForgotPasswordPage({ csrfToken, notice, error, mailConfigured }: { csrfToken: string; notice?: string; error?: string; mailConfigured: boolean }): JSX.Element {
  return (
    <Layout title="Forgot password">
      <h1>Forgot your password?</h1>
      <Messages notice={notice} error={error} />
      {mailConfigured ? (
        <form class="stack" method="post" action="/login/forgot">
          <input type="hidden" name="_csrf" value={csrfToken} />
          <label>
            Username or e-mail address
            <input name="login" autocomplete="username" required maxlength="254" autofocus />
          </label>
          <button type="submit">Send me a link</button>
        </form>
      ) : (
        <p>This server does not send e-mail. Ask an administrator for a password-reset link.</p>
      )}
      <p>
        <a href="/login">Back to sign in</a>
      </p>
    </Layout>
  );
}
