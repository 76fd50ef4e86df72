// The peer: Hono doing the same work with its own middleware — request-id, secure-headers, one JSON access-log line
// per request (buffered), and hono/jwt on the token route (the bearer is the bare JWT inside an `ept_` token).
// Usage: bun bench/hono.ts PORT LOGFILE; BENCH_SECRET signs the tokens; BENCH_SERVICE_SUB names the service user.
import { Hono } from "hono";
import { jwt } from "hono/jwt";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";

const port = Number(process.argv[2] ?? 0);
const log = Bun.file(process.argv[3] ?? "/dev/null").writer({ highWaterMark: 64 * 1024 });
setInterval(() => log.flush(), 100);
const groupsOf = new Map<string, readonly string[]>([[process.env.BENCH_SERVICE_SUB ?? "", ["services"]]]);

const app = new Hono<{ Variables: { jwtPayload: { sub: string } } }>();
app.use(requestId());
app.use(secureHeaders());
app.use(async (c, next) => {
  const started = performance.now();
  await next();
  log.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: "info", event: "request", method: c.req.method, path: c.req.path, status: c.res.status, duration_ms: Math.round((performance.now() - started) * 100) / 100, request_id: c.get("requestId") })}\n`,
  );
});
app.get("/status", (c) => c.json({ status: "ok", service: "endpoint" }));
app.get("/service/status", jwt({ secret: process.env.BENCH_SECRET ?? "", alg: "HS256" }), (c) => {
  if (!groupsOf.get(c.get("jwtPayload").sub)?.includes("services")) return c.json({ code: "forbidden" }, 403);
  c.header("Cache-Control", "no-store");
  return c.json({ status: "ok", service: "endpoint" });
});

const server = Bun.serve({ port, hostname: "127.0.0.1", development: false, fetch: app.fetch });
console.error(`hono listening on http://127.0.0.1:${server.port}`);
