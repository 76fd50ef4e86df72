/** @jsxImportSource @kitajs/html */
// The HTML face of an error: status, one sentence and the request id, under the header the caller would see on
// any other page. Nothing from the request is shown raw.
import type { Principal } from "../auth/principal.ts";
import { Layout } from "./layout.tsx";

/** The caller, as far as an error page's header needs to know. */
export interface PageCaller {
  /** The signed-in caller, or null when nobody is. */
  principal: Principal | null;
  /** Their session's CSRF token, for the sign-out form (none for a token caller). */
  csrfToken: string | null;
  isAdmin: boolean;
}

export interface ErrorPageProps {
  status: number;
  title: string;
  detail: string;
  requestId: string;
  /** Undefined when the failure came before anyone asked who is calling. */
  caller?: PageCaller;
}

export function ErrorPage({ status, title, detail, requestId, caller }: ErrorPageProps): JSX.Element {
  return (
    <Layout title={title} principal={caller?.principal} csrfToken={caller?.csrfToken} isAdmin={caller?.isAdmin} callerUnknown={caller === undefined}>
      <section class="error">
        <h1>
          {String(status) as "safe"} <span safe>{title}</span>
        </h1>
        <p safe>{detail}</p>
        <p class="muted">
          Request id: <code safe>{requestId}</code>
        </p>
      </section>
    </Layout>
  );
}
