// The log never holds a credential: API tokens, session ids, CSRF tokens, passwords and Authorization values are
// redacted by shape or by field name, and a whole flow — sign-in, tokens made, used and revoked, a password
// change, a lock-out, a sudo confirmation, sign-out — leaves none in any line. The same flow's security changes
// show up as `"event":"security"` lines, so a log pipeline sees them without reading the audit table.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { REDACTED, attachSecurityLog, createLogger, hasLongRun, logSecurityEvent, memorySink, redactText } from "../../src/logger.ts";
import { testBackends } from "../support/backends.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const sessionLike = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
const TOKEN = "ept_eyJhbGciOiJIUzI1NiIsInR5cCI6ImVwdCtqd3QiLCJraWQiOiIwMTIzNDU2Nzg5YWJjZGVmIn0.eyJqdGkiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz";

describe("redaction", () => {
  const logged = (fields: Record<string, unknown>) => {
    const sink = memorySink();
    createLogger(sink, "debug").info("something", fields);
    return sink.lines.join("");
  };

  test("fields named like a credential lose their value, at any depth; other fields keep theirs", () => {
    const cookie = sessionLike();
    const line = logged({
      password: "hunter2hunter2",
      new_password: "correct horse",
      _sudo_password: "battery staple",
      headers: { Authorization: "Basic dXNlcjpwYXNz", cookie: `session=${cookie}`, "x-csrf-token": "abc", accept: "text/html" },
      form: { _csrf: "def", username: "joe" },
      setup_token: "ghi",
      token_id: "4f1c2d3e-0000-4000-8000-000000000000",
      tokens: 3,
      password_changed: true,
    });
    for (const secret of ["hunter2hunter2", "correct horse", "battery staple", "dXNlcjpwYXNz", cookie, '"abc"', '"def"', '"ghi"']) expect(line).not.toContain(secret);
    const parsed = JSON.parse(line);
    expect(parsed.password).toBe(REDACTED);
    expect(parsed.headers).toEqual({ Authorization: REDACTED, cookie: REDACTED, "x-csrf-token": REDACTED, accept: "text/html" });
    expect(parsed.form).toEqual({ _csrf: REDACTED, username: "joe" });
    expect(parsed).toMatchObject({ token_id: "4f1c2d3e-0000-4000-8000-000000000000", tokens: 3, password_changed: true });
  });

  test("values shaped like a credential are redacted wherever they appear", () => {
    const cookie = sessionLike();
    const jwt = TOKEN.slice(4);
    const cases: Array<[string, string]> = [
      [`token ${TOKEN} was refused`, `token ept_${REDACTED} was refused`],
      [`a bare JWT ${jwt}`, `a bare JWT ${REDACTED}`],
      [`Authorization: Bearer some-opaque-value`, `Authorization: Bearer ${REDACTED}`],
      [`cookie session=${cookie}; theme=dark`, `cookie session=${REDACTED}; theme=dark`],
      [`line one\n${cookie}`, `line one\n${REDACTED}`],
      [`glued${cookie}`, REDACTED],
      [`/setup?token=abc&x=1 and /login?password=p4ss`, `/setup?token=${REDACTED}&x=1 and /login?password=${REDACTED}`],
      // Ours and not secret: sha256 hex (config hashes), UUIDs, short words.
      ["config 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "config 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
      ["token 4f1c2d3e-0000-4000-8000-000000000000 is revoked", "token 4f1c2d3e-0000-4000-8000-000000000000 is revoked"],
      // Long names without a capital letter are kept: the server's start line lists its migrations (one is 46 long).
      ["applied 20261125000100_token_parents_and_jsonb_repair", "applied 20261125000100_token_parents_and_jsonb_repair"],
      // A long run with a capital is a secret's shape, whatever else it holds: base32 (a TOTP secret), mixed case.
      ["secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", `secret ${REDACTED}`],
      ["user averyveryverylongnamethatgoesonandonandonX1", `user ${REDACTED}`],
    ];
    // A random session id has a capital letter (all but 1 in 5 billion draws): every one of these is redacted.
    for (let i = 0; i < 1_000; i++) {
      const id = sessionLike();
      expect(redactText(`id ${id}`)).toBe(`id ${REDACTED}`);
    }
    for (const [text, expected] of cases) expect(redactText(text)).toBe(expected);
    expect(JSON.parse(logged({ cause: `failed with ${TOKEN}`, nested: [{ id: cookie }] }))).toMatchObject({ cause: `failed with ept_${REDACTED}`, nested: [{ id: REDACTED }] });
  });

  test("the access log's fast path redacts a token or a session id the client put in the path or X-Request-Id", () => {
    const sink = memorySink();
    const log = createLogger(sink, "info");
    const cookie = sessionLike();
    log.infoEncoded("request", `"method":"GET","path":${JSON.stringify(`/api/tokens/${TOKEN}`)},"status":422`);
    log.infoEncoded("request", `"method":"GET","path":"/","request_id":${JSON.stringify(cookie)},"status":200`);
    log.infoEncoded("request", `"method":"GET","path":"/api/me","request_id":"k3j2h1-1a2b","status":200`);
    const lines = sink.lines.map((line) => JSON.parse(line));
    expect(lines.map((l) => [l.path, l.request_id])).toEqual([
      [`/api/tokens/ept_${REDACTED}`, undefined],
      ["/", REDACTED],
      ["/api/me", "k3j2h1-1a2b"],
    ]);
  });

  test("the run check finds exactly the runs of 43 or more base64url characters a regex finds", () => {
    const pattern = /[A-Za-z0-9_-]{43}/;
    const alphabet = "aZ9_-/\".: ";
    for (let i = 0; i < 20_000; i++) {
      let text = "";
      const length = Math.floor(Math.random() * 160);
      for (let j = 0; j < length; j++) text += Math.random() < 0.96 ? "x" : alphabet[Math.floor(Math.random() * alphabet.length)];
      if (hasLongRun(text) !== pattern.test(text)) throw new Error(`disagree on ${JSON.stringify(text)}`);
    }
    expect(hasLongRun(sessionLike())).toBe(true);
    expect(hasLongRun(sessionLike().slice(1))).toBe(false);
  });

  test("security events reach every attached logger until it is detached", () => {
    const sink = memorySink();
    const detach = attachSecurityLog(createLogger(sink, "info"));
    logSecurityEvent({ action: "token.revoke", actor: "joe", source: "api", target: "joe", client: "10.0.0.1" });
    detach();
    logSecurityEvent({ action: "token.revoke", actor: "ann", source: "api", target: "ann", client: null });
    expect(sink.lines.map((line) => JSON.parse(line))).toEqual([
      { time: expect.any(String), level: "info", event: "security", action: "token.revoke", actor: "joe", source: "api", target: "joe", client: "10.0.0.1" },
    ]);
  });
});

for (const backend of testBackends()) {
  describe(`${backend.name}: a whole flow leaves no credential in the log, and its security changes as events`, () => {
    let server: TestEndpoint;
    /** Everything that must never be in a line: filled in as the flow makes them. */
    const secrets = new Set<string>([PASSWORD]);
    const NEW_PASSWORD = "a brand new password for joe";
    const GUESSER = "10.9.9.9";
    const events = () =>
      server.logLines
        .map((line) => JSON.parse(line))
        .filter((line) => line.event === "security")
        .map(({ action, actor, source, target, client, detail }) => ({ action, actor, source, target, client, detail }));

    type Session = { cookie: string; csrfToken: string };
    const remember = (session: Session) => {
      secrets.add(session.cookie.split("=")[1]!);
      secrets.add(session.csrfToken);
      return session;
    };
    const api = (session: Session, method: string, path: string, body?: unknown) =>
      server.request(path, {
        method,
        cookie: session.cookie,
        headers: { origin: server.origin, "x-csrf-token": session.csrfToken, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const submit = (session: Session, path: string, fields: Record<string, string>) =>
      server.request(path, {
        method: "POST",
        cookie: session.cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, accept: "text/html" },
        body: new URLSearchParams({ _csrf: session.csrfToken, ...fields }).toString(),
      });
    /** A sign-in attempt through the real form, from `peer`. */
    const tryPassword = async (username: string, password: string, peer: string) => {
      const form = await server.request("/login", { headers: { "x-test-peer": peer } });
      const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!;
      const field = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
      secrets.add(field);
      return server.request("/login", {
        method: "POST",
        cookie: csrfCookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin, "x-test-peer": peer },
        body: new URLSearchParams({ username, password, _csrf: field, next: "/" }).toString(),
      });
    };

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("root", ["admin"]);
      await server.addUser("joe", ["users"]);
      await server.addUser("kim");

      // Sign in with a password; make a token by API and by page; use them, also wrongly (a token in the path).
      const joe = remember(await server.signIn("joe"));
      const root = remember(await server.signIn("root"));
      const made = await api(joe, "POST", "/api/tokens", { name: "laptop" });
      expect(made.status).toBe(201);
      const { token, id } = (await made.json()) as { token: string; id: string };
      secrets.add(token);
      const rootToken = (await server.tokenFor("root")).token;
      secrets.add(rootToken);
      expect((await server.request("/api/me", { token })).status).toBe(200);
      expect((await server.request("/api/me", { token: `${token}x` })).status).toBe(401);
      expect((await server.request(`/api/tokens/${token}`, { token: rootToken })).status).toBeGreaterThanOrEqual(400);
      expect((await server.request("/api/me", { cookie: joe.cookie, headers: { "x-request-id": joe.cookie.split("=")[1]! } })).status).toBe(200);
      const page = await submit(joe, "/account/tokens", { name: "desktop", days: "7" });
      const pageToken = /value="(ept_[^"]+)"/.exec(await page.text())![1]!;
      secrets.add(pageToken);

      // Revoke a token; an admin change (joe made an administrator, then not).
      expect((await api(joe, "DELETE", `/api/tokens/${id}`)).status).toBe(204);
      expect((await server.request("/api/me", { token })).status).toBe(401);
      expect((await api(root, "PUT", "/api/groups/admin/members/joe")).ok).toBe(true);
      expect((await api(root, "DELETE", "/api/groups/admin/members/joe")).ok).toBe(true);

      // Sudo: root's password is made old, so disabling kim asks for it, and the answer carries the change out.
      const rootHash = new Bun.CryptoHasher("sha256").update(root.cookie.split("=")[1]!).digest("hex");
      await sql`update sessions set authenticated_at = now() - interval '11 hours' where id_hash = ${rootHash}`.execute(server.database.db);
      server.endpoint.cache.forgetSession(rootHash);
      expect((await submit(root, "/admin/users/kim/disable", {})).status).toBe(403);
      expect((await submit(root, "/admin/users/kim/disable", { _sudo_password: PASSWORD })).status).toBe(200);
      expect((await submit(root, "/admin/users/kim/enable", {})).status).toBe(200);

      // A second session for joe, ended from the first; then joe changes the password (ends the rest, revokes tokens).
      const joeElsewhere = remember(await server.signIn("joe"));
      const handle = new Bun.CryptoHasher("sha256").update(joeElsewhere.cookie.split("=")[1]!).digest("hex").slice(0, 16);
      expect((await submit(joe, "/account/sessions/end", { session: handle })).status).toBe(200);
      secrets.add(NEW_PASSWORD);
      const changed = await submit(joe, "/account/password", { current: PASSWORD, password: NEW_PASSWORD, repeat: NEW_PASSWORD });
      expect(changed.status).toBe(200);
      expect((await server.request("/api/me", { token: pageToken })).status).toBe(401);

      // Wrong passwords for kim from one address until both are locked out (and two more, refused).
      for (let guess = 1; guess <= 12; guess++) {
        const wrong = `wrong guess number ${guess} for kim`;
        secrets.add(wrong);
        expect((await tryPassword("kim", wrong, GUESSER)).status).toBe(guess <= 10 ? 401 : 429);
      }

      // Sign out; and what a careless handler might log about a request is redacted too.
      expect((await server.request("/logout", { method: "POST", cookie: joe.cookie, headers: { origin: server.origin, "x-csrf-token": joe.csrfToken } })).status).toBe(303);
      server.log.warn("careless_dump", { headers: { authorization: `Bearer ${rootToken}`, cookie: joe.cookie }, body: { password: PASSWORD }, note: `sent ${rootToken}` });
      await Bun.sleep(50);
    }, 120_000);
    afterAll(() => server.close());

    test("no line holds a token, a session id, a CSRF token, a password or an Authorization value", () => {
      const lines = server.logLines;
      expect(lines.length).toBeGreaterThan(40);
      expect(lines.some((line) => line.includes('"principal":"joe"'))).toBe(true); // the log is there, and not all redacted
      const leaks: string[] = [];
      for (const line of lines) {
        for (const secret of secrets) if (line.includes(secret)) leaks.push(`${secret.slice(0, 12)}… in ${line.slice(0, 160)}`);
        if (/authorization|bearer /i.test(line) && !line.includes(`"authorization":"${REDACTED}"`)) leaks.push(`Authorization in ${line.slice(0, 160)}`);
        if (/ept_(?!\[redacted\])/.test(line)) leaks.push(`a token prefix in ${line.slice(0, 160)}`);
      }
      expect(leaks).toEqual([]);
    });

    test("token and session revocations, admin changes, lock-outs and sudo confirmations are security events", () => {
      const seen = events();
      const local = "127.0.0.1";
      const expected = [
        { action: "token.create", actor: "joe", source: "api", target: "joe", client: local },
        { action: "token.revoke", actor: "joe", source: "api", target: "joe", client: local },
        { action: "group.add_member", actor: "root", source: "api", target: "admin", client: local, detail: { member: "joe" } },
        { action: "group.remove_member", actor: "root", source: "api", target: "admin", client: local, detail: { member: "joe" } },
        { action: "sudo.confirm", actor: "root", source: "web", target: "root", client: local },
        { action: "user.disable", actor: "root", source: "web", target: "kim", client: local },
        { action: "session.end", actor: "joe", source: "web", target: "joe", client: local },
        { action: "user.set_password", actor: "joe", source: "web", target: "joe", client: local },
        { action: "user.lockout", actor: "throttle", source: "web", target: "kim", client: GUESSER, detail: { failures: 10 } },
        { action: "address.lockout", actor: "throttle", source: "web", target: GUESSER, client: GUESSER, detail: { failures: 10 } },
      ];
      for (const event of expected) expect(seen).toContainEqual(expect.objectContaining({ ...event, detail: expect.objectContaining(event.detail ?? {}) }));
      // A lock-out is one event, however many attempts it refuses.
      expect(seen.filter((e) => e.action === "user.lockout")).toHaveLength(1);
      // Every audited change is an event: the audit table and the log agree.
      return server.database.db
        .selectFrom("audit_log")
        .select(["action", "target"])
        .orderBy("id")
        .execute()
        .then((rows) => expect(seen.map((e) => `${e.action} ${e.target}`)).toEqual(rows.map((r) => `${r.action} ${r.target}`)));
    });
  });
}
