/** @jsxImportSource @kitajs/html */
// The floor: the work Endpoint does on each benchmarked route, written by hand on bare Bun.serve — a request id, the
// same headers Endpoint sends on that route, the same JSON (or the same JSX page through the same layout), a
// credential looked up in a map (what Endpoint's cache does), and one JSON access-log line per request, buffered.
// Usage: bun bench/hand-written.tsx PORT LOGFILE; credentials in BENCH_SERVICE_TOKEN, BENCH_OUTSIDER_TOKEN and
// BENCH_COOKIE ("name=value").
import { Layout } from "../src/pages/layout.tsx";

const port = Number(process.argv[2] ?? 0);
const log = Bun.file(process.argv[3] ?? "/dev/null").writer({ highWaterMark: 64 * 1024 });
setInterval(() => log.flush(), 100);

interface Caller {
  id: string;
  username: string;
  groups: readonly string[];
  via: "session" | "token";
}
const tokens = new Map<string, Caller>([
  [process.env.BENCH_SERVICE_TOKEN ?? "", { id: "svc", username: "svc", groups: ["services"], via: "token" }],
  [process.env.BENCH_OUTSIDER_TOKEN ?? "", { id: "outsider", username: "outsider", groups: [], via: "token" }],
]);
const [cookieName, cookieValue] = (process.env.BENCH_COOKIE ?? "=").split("=") as [string, string];
const sessions = new Map<string, Caller>([[cookieValue, { id: "joe", username: "joe", groups: ["users"], via: "session" }]]);

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const prefix = crypto.randomUUID().slice(0, 8);
let counter = 0;

function finish(request: Request, response: Response, route: string, started: number, caller: Caller | null): Response {
  const url = request.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  log.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: "info", event: "request", method: request.method, path: url.slice(pathStart), route, status: response.status, duration_ms: Math.round((performance.now() - started) * 100) / 100, request_id: response.headers.get("x-request-id"), principal: caller?.username ?? null })}\n`,
  );
  return response;
}

const headers = (requestId: string, personal: boolean, type = "application/json; charset=utf-8"): Record<string, string> => {
  const h: Record<string, string> = { "X-Request-Id": requestId, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Content-Type": type };
  if (personal) h["Cache-Control"] = "no-store";
  return h;
};

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  development: false,
  routes: {
    "/status": (request) => {
      const started = performance.now();
      const requestId = `${prefix}-${(++counter).toString(36)}`;
      return finish(request, new Response(JSON.stringify({ status: "ok", service: "endpoint" }), { headers: headers(requestId, false) }), "public-json", started, null);
    },
    "/service/status": (request) => {
      const started = performance.now();
      const requestId = `${prefix}-${(++counter).toString(36)}`;
      const authorization = request.headers.get("authorization");
      const caller = authorization?.startsWith("Bearer ") ? (tokens.get(authorization.slice(7)) ?? null) : null;
      if (!caller || !caller.groups.includes("services")) {
        const status = caller ? 403 : 401;
        const body = { type: "https://endpoint.dev/problems/forbidden", title: "Forbidden", status, detail: "you are signed in but not allowed to use this route", code: "forbidden", request_id: requestId };
        const h = headers(requestId, false, "application/problem+json; charset=utf-8");
        h["WWW-Authenticate"] = 'Bearer realm="endpoint", error="insufficient_scope"';
        return finish(request, new Response(JSON.stringify(body), { status, headers: h }), "token-json", started, caller);
      }
      return finish(request, new Response(JSON.stringify({ status: "ok", service: "endpoint" }), { headers: headers(requestId, true) }), "token-json", started, caller);
    },
    "/dashboard": async (request) => {
      const started = performance.now();
      const requestId = `${prefix}-${(++counter).toString(36)}`;
      const cookie = request.headers.get("cookie") ?? "";
      const at = cookie.indexOf(`${cookieName}=`);
      const caller = at === -1 ? null : (sessions.get(cookie.slice(at + cookieName.length + 1).split(";")[0]!) ?? null);
      if (!caller) return finish(request, new Response(null, { status: 302, headers: { Location: "/login" } }), "session-page", started, null);
      const page = await (
        <Layout title="Home" principal={caller as never} csrfToken="x">
          <h1>Endpoint</h1>
          <p>
            Signed in as <strong safe>{caller.username}</strong>. See the <a href="/events">recorded events</a>.
          </p>
        </Layout>
      );
      const h = headers(requestId, true, "text/html; charset=utf-8");
      h["Content-Security-Policy"] = CSP;
      h["X-Frame-Options"] = "DENY";
      return finish(request, new Response(page, { headers: h }), "session-page", started, caller);
    },
  },
  fetch: () => new Response("not found", { status: 404 }),
});
console.error(`hand-written listening on http://127.0.0.1:${server.port}`);
