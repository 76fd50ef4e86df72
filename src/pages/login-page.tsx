/** @jsxImportSource @kitajs/html */
// The sign-in form. Works without JavaScript; carries the login CSRF token and where to go afterwards.
import { Layout } from "./layout.tsx";

export function LoginPage({ csrfToken, next, error, username }: { csrfToken: string; next: string; error?: string; username?: string }): JSX.Element {
  return (
    <Layout title="Sign in">
      <h1>Sign in</h1>
      {error ? (
        <p class="alert" role="alert" safe>
          {error}
        </p>
      ) : (
        ""
      )}
      <form class="stack" method="post" action="/login">
        <input type="hidden" name="_csrf" value={csrfToken} />
        <input type="hidden" name="next" value={next} />
        <label>
          Username
          <input name="username" autocomplete="username" required maxlength="64" value={username ?? ""} autofocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required maxlength="1024" />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <p>
        <a href="/login/forgot">Forgot your password?</a>
      </p>
    </Layout>
  );
}
