/** @jsxImportSource @kitajs/html */
// The HTML face of an error: status, one sentence and the request id. Nothing from the request is shown raw.
import { Layout } from "./layout.tsx";

export function ErrorPage({ status, title, detail, requestId }: { status: number; title: string; detail: string; requestId: string }): JSX.Element {
  return (
    <Layout title={title}>
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
