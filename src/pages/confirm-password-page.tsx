/** @jsxImportSource @kitajs/html */
// Sudo mode's page: "confirm your password". It posts the original form again, to the original address, with the
// password added as `_sudo_password`, so one submit confirms and carries the action out.
import { escapeHtml } from "@kitajs/html";
import type { Principal } from "../auth/principal.ts";
import { Layout } from "./layout.tsx";

export const SUDO_PASSWORD_FIELD = "_sudo_password";

export interface ConfirmPasswordProps {
  principal: Principal;
  csrfToken: string;
  /** Path (and query) the original form was posted to. */
  action: string;
  /** What is being confirmed, in a few words ("delete a user"). */
  what: string;
  /** The original form's fields, carried unchanged. */
  fields: Array<[string, string]>;
  error?: string;
}

export function ConfirmPasswordPage({ principal, csrfToken, action, what, fields, error }: ConfirmPasswordProps): JSX.Element {
  return (
    <Layout title="Confirm your password" principal={principal} csrfToken={csrfToken}>
      <section class="narrow">
        <h1>Confirm your password</h1>
        <p>
          To <span safe>{what}</span>, type your password again. You will not be asked again for a few minutes.
        </p>
        {error ? (
          <p class="error" role="alert" safe>
            {error}
          </p>
        ) : (
          ""
        )}
        <form method="post" action={action}>
          <input type="hidden" name="_csrf" value={csrfToken} />
          {fields.map(([name, value]) => (
            // @kitajs/html escapes only `"` in attributes; a carried value must come back byte for byte, `&` included.
            <input type="hidden" name={escapeHtml(name)} value={escapeHtml(value)} />
          ))}
          <label>
            Password for <strong safe>{principal.username}</strong>
            <input type="password" name={SUDO_PASSWORD_FIELD} autocomplete="current-password" required autofocus />
          </label>
          <button type="submit">Confirm</button>
        </form>
      </section>
    </Layout>
  );
}
