/** @jsxImportSource @kitajs/html */
// First run: the form that creates the first administrator, reached through the one-time link printed at start.
import { Layout } from "./layout.tsx";

export function SetupPage({ token, error, username }: { token: string; error?: string; username?: string }): JSX.Element {
  return (
    <Layout title="Set up Endpoint">
      <h1>Create the first administrator</h1>
      <p class="muted">This page works once. The account you create here joins the admin group and is signed in.</p>
      {error ? (
        <p class="alert" role="alert" safe>
          {error}
        </p>
      ) : (
        ""
      )}
      <form class="stack" method="post" action="/setup">
        <input type="hidden" name="token" value={token} />
        <label>
          Username
          <input name="username" autocomplete="username" required maxlength="64" value={username ?? ""} autofocus />
        </label>
        <label>
          Password (12 characters or more)
          <input name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="128" />
        </label>
        <label>
          Repeat password
          <input name="repeat" type="password" autocomplete="new-password" required minlength="12" maxlength="128" />
        </label>
        <button type="submit">Create administrator</button>
      </form>
    </Layout>
  );
}
