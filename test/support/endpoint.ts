// A whole Endpoint in the test process, on a fresh database, answering real Requests through app.handle().
// People sign in through the real /login form and tokens come from the same createToken the CLI uses:
// the server has no test-only way in.
import { type DatabaseHandle, openDatabase } from "../../db/open.ts";
import { addMember, createGroup } from "../../src/accounts/groups.ts";
import { createUser } from "../../src/accounts/users.ts";
import { accountRules } from "../../src/accounts/rules.ts";
import { issueToken } from "../../src/auth/issue-token.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { type Endpoint, assembleEndpoint } from "../../src/server/assemble.ts";
import { type Logger, createLogger, memorySink } from "../../src/logger.ts";
import type { FreshDatabase, TestBackend } from "./backends.ts";

export const TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
export const PASSWORD = "a perfectly fine password";
const actor = { name: "test-setup", source: "cli" as const, recentlyAuthenticated: true };

export interface TestEndpoint {
  config: Config;
  endpoint: Endpoint;
  database: DatabaseHandle;
  /** The fresh database's URL (a second instance can open it too). */
  databaseUrl: string;
  log: Logger;
  logLines: string[];
  origin: string;
  request(path: string, init?: RequestInit & { cookie?: string; token?: string }): Promise<Response>;
  addUser(username: string, groups?: string[]): Promise<void>;
  tokenFor(username: string, options?: { routes?: string[]; expiresInSeconds?: number; name?: string }): Promise<{ token: string; id: string }>;
  /** Sign in through GET and POST /login; returns the session cookie ("name=value") and the CSRF token. */
  signIn(username: string, password?: string): Promise<{ cookie: string; csrfToken: string }>;
  close(): Promise<void>;
}

export async function startTestEndpoint(
  backend: TestBackend,
  {
    configFile = "endpoint.yaml",
    routesDir,
    env = {},
    mode = "development",
  }: { configFile?: string; routesDir?: string; env?: Record<string, string>; mode?: "development" | "production" } = {},
): Promise<TestEndpoint> {
  const fresh: FreshDatabase = await backend.create({ migrated: true });
  const loaded = await loadConfig(configFile, { env: { ...process.env, ...env }, routesDir });
  if (!loaded.ok) throw new Error(`test config does not validate: ${JSON.stringify(loaded.findings)}`);
  const config = loaded.config;
  const database = await openDatabase(fresh.url);
  const sink = memorySink();
  const log = createLogger(sink, "debug");
  const endpoint = await assembleEndpoint({
    config,
    database,
    log,
    mode,
    routesDir,
    env: { ENDPOINT_SECRET: TEST_SECRET, ...env },
    peerAddress: (request) => request.headers.get("x-test-peer") ?? "127.0.0.1",
  });
  const origin = new URL(config.server.publicUrl).origin;
  const knownGroups = new Set<string>();

  const request: TestEndpoint["request"] = (path, init = {}) => {
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set("cookie", init.cookie);
    if (init.token) headers.set("authorization", `Bearer ${init.token}`);
    return endpoint.app.handle(new Request(origin + path, { ...init, headers }));
  };

  return {
    config,
    endpoint,
    database,
    databaseUrl: fresh.url,
    log,
    logLines: sink.lines,
    origin,
    request,
    async addUser(username, groups = []) {
      await createUser(database.db, actor, { username, password: PASSWORD });
      for (const group of groups) {
        if (!knownGroups.has(group)) {
          await createGroup(database.db, actor, { name: group }).catch(() => {});
          knownGroups.add(group);
        }
        await addMember(database.db, accountRules(config), actor, group, username);
      }
    },
    async tokenFor(username, { routes, expiresInSeconds = 3600, name = "test" } = {}) {
      const { token, summary } = await issueToken(database.db, endpoint.codec, accountRules(config), actor, {
        username,
        name,
        expiresInSeconds,
        defaultExpirySeconds: config.auth.tokenDefaultExpirySeconds,
        maxExpirySeconds: config.auth.tokenMaxExpirySeconds,
        routes,
      });
      return { token, id: summary.id };
    },
    async signIn(username, password = PASSWORD) {
      const form = await request("/login");
      const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      const response = await request("/login", {
        method: "POST",
        cookie: csrfCookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin },
        body: new URLSearchParams({ username, password, _csrf: field, next: "/" }).toString(),
      });
      const session = response.headers.getSetCookie().find((c) => c.startsWith(`${config.auth.cookieName}=`));
      if (response.status !== 303 || !session) throw new Error(`sign-in as ${username} failed: ${response.status}`);
      const cookie = session.split(";")[0]!;
      const csrfToken = (await database.db
        .selectFrom("sessions")
        .select("csrf_token")
        .where("id_hash", "=", new Bun.CryptoHasher("sha256").update(cookie.split("=")[1]!).digest("hex"))
        .executeTakeFirstOrThrow()).csrf_token;
      return { cookie, csrfToken };
    },
    async close() {
      await endpoint.shutdown();
      await database.close();
      await fresh.drop();
    },
  };
}
