// Two-step sign-in with TOTP, checked against codes from Debian's oathtool (an implementation nobody here wrote):
// the algorithm, the clock-step window (previous step yes, two ago no, next yes), replay, recovery codes, the
// sign-in's second step over HTTP (no session before the code; CSRF; throttling), and `mfa reset` from the CLI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../db/open.ts";
import { confirmEnrolment, enrolmentSecret, mfaStatus, resetMfa, verifySecondFactor } from "../../src/accounts/mfa.ts";
import { decryptSecret, deriveMfaKeys, encryptSecret } from "../../src/accounts/mfa-cipher.ts";
import { base32Decode, base32Encode, hotp, matchingStep, stepAt } from "../../src/accounts/totp.ts";
import { createUser } from "../../src/accounts/users.ts";
import { loadConfig } from "../../src/config/load.ts";
import { EnrolmentPanel } from "../../src/pages/mfa-pages.tsx";
import { testBackends } from "../support/backends.ts";
import { ROOT, runCli } from "../support/cli.ts";
import { PASSWORD, TEST_SECRET, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const oathtoolMissing = Bun.which("oathtool") === null;
/** The TOTP code oathtool makes for `secret` at `atMs` (milliseconds since the epoch). */
function oathtool(secret: string, atMs: number): string {
  const result = Bun.spawnSync(["oathtool", "--totp", "-b", secret, "-N", `@${Math.floor(atMs / 1000)}`]);
  if (result.exitCode !== 0) throw new Error(`oathtool failed: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}
const STEP_MS = 30_000;
const actor = { name: "cli:test", source: "cli" as const, recentlyAuthenticated: true };
/** A moment well inside a step, so codes made for "now" stay valid while a test runs. */
async function midStep(): Promise<number> {
  const into = Date.now() % STEP_MS;
  if (into > STEP_MS - 4000) await Bun.sleep(STEP_MS - into + 50);
  return Date.now();
}

describe.skipIf(oathtoolMissing)("TOTP agrees with oathtool", () => {
  test("the same 6-digit code at many moments, including step edges, for several secrets", () => {
    for (const secret of ["JBSWY3DPEHPK3PXP", base32Encode(crypto.getRandomValues(new Uint8Array(20))), base32Encode(crypto.getRandomValues(new Uint8Array(20)))]) {
      const bytes = base32Decode(secret)!;
      for (const atMs of [0, 29_999, 30_000, 1_111_111_109_000, 1_700_000_000_000, 2_000_000_000_000, Date.now()])
        expect(hotp(bytes, stepAt(atMs))).toBe(oathtool(secret, atMs));
    }
  });

  test("base32 round-trips, and a non-base32 secret is refused", () => {
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
    expect(base32Decode("not base32!")).toBeNull();
  });

  test("a code from the previous step and the next step is accepted, two steps away is refused", () => {
    const secret = base32Encode(crypto.getRandomValues(new Uint8Array(20)));
    const bytes = base32Decode(secret)!;
    const now = 1_764_000_015_000; // mid-step
    const step = stepAt(now);
    expect(matchingStep(bytes, oathtool(secret, now), now)).toBe(step);
    expect(matchingStep(bytes, oathtool(secret, now - STEP_MS), now)).toBe(step - 1);
    expect(matchingStep(bytes, oathtool(secret, now + STEP_MS), now)).toBe(step + 1);
    expect(matchingStep(bytes, oathtool(secret, now - 2 * STEP_MS), now)).toBeNull();
    expect(matchingStep(bytes, oathtool(secret, now + 2 * STEP_MS), now)).toBeNull();
    // The very last millisecond of a step still takes the previous step's code; the first of the next does not.
    const stepStart = step * STEP_MS;
    expect(matchingStep(bytes, oathtool(secret, stepStart - STEP_MS - 1), stepStart - 1)).toBe(step - 2);
    expect(matchingStep(bytes, oathtool(secret, stepStart - STEP_MS - 1), stepStart + STEP_MS)).toBeNull();
  });
});

describe("MFA secrets are encrypted at rest", () => {
  test("AES-GCM under a key from the server secret: another secret, another user or a flipped bit does not open it", () => {
    const keys = deriveMfaKeys([TEST_SECRET]);
    const plain = crypto.getRandomValues(new Uint8Array(20));
    const stored = encryptSecret(keys, "user-a", plain);
    expect(stored).not.toContain(base32Encode(plain));
    expect(decryptSecret(keys, "user-a", stored)).toEqual(plain);
    expect(decryptSecret(keys, "user-b", stored)).toBeNull();
    expect(decryptSecret(deriveMfaKeys(["another-secret-0123456789-abcdefghijklmnop"]), "user-a", stored)).toBeNull();
    const flipped = stored.slice(0, -2) + (stored.at(-2) === "A" ? "B" : "A") + stored.at(-1);
    expect(decryptSecret(keys, "user-a", flipped)).toBeNull();
    // After a rotation the old secret is a previous one, and still opens what it encrypted.
    expect(decryptSecret(deriveMfaKeys(["a-new-secret-0123456789-abcdefghijklmnopqr", TEST_SECRET]), "user-a", stored)).toEqual(plain);
  });
});

describe("auth.mfa.required_for in endpoint.yaml", () => {
  test("a group that groups: does not declare is a finding at its position (a typo must not leave admins without MFA)", async () => {
    const yaml = (await Bun.file(join(ROOT, "endpoint.yaml")).text()).replace("  admin_group: admin\n", "  admin_group: admin\n  mfa:\n    required_for: [admin, adminz]\n");
    const dir = mkdtempSync(join(tmpdir(), "endpoint-mfa-config-"));
    try {
      await Bun.write(join(dir, "endpoint.yaml"), yaml);
      const loaded = await loadConfig(join(dir, "endpoint.yaml"), { env: process.env, routesDir: join(ROOT, "routes") });
      expect(loaded.ok).toBe(false);
      const findings = loaded.ok ? [] : loaded.findings.map((f) => ({ code: f.code, message: f.message }));
      expect(findings).toEqual([{ code: "unknown-group", message: "auth.mfa.required_for names group 'adminz', which groups: does not declare" }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the enrolment panel", () => {
  test("draws the QR code inline as SVG (no data: URL for the CSP to block) and shows the key as text", () => {
    const html = String(EnrolmentPanel({ secret: "ABCDEFGH", uri: "otpauth://totp/Endpoint:joe?secret=ABCDEFGH", qr: [[true, false], [false, true]], action: "/account/mfa/confirm", csrfToken: "t" }));
    expect(html).toContain('<svg class="qr"');
    expect(html).toContain('viewBox="-4 -4 10 10"');
    expect(html).toContain('d="M0 0h1v1h-1zM1 1h1v1h-1z"');
    expect(html).not.toContain("data:");
    expect(html).toContain("ABCD EFGH");
    // Without an encoder (the uqr package not installed) the key and the link are still there.
    const plain = String(EnrolmentPanel({ secret: "ABCDEFGH", uri: "otpauth://totp/Endpoint:joe?secret=ABCDEFGH", action: "/x", csrfToken: "t" }));
    expect(plain).not.toContain("<svg");
    expect(plain).toContain('href="otpauth://totp/Endpoint:joe?secret=ABCDEFGH"');
  });
});

for (const backend of testBackends()) {
  describe.skipIf(oathtoolMissing)(`${backend.name}: MFA rules`, () => {
    let fresh: Awaited<ReturnType<typeof backend.create>>;
    let handle: Awaited<ReturnType<typeof openDatabase>>;
    const keys = deriveMfaKeys([TEST_SECRET]);
    beforeAll(async () => {
      fresh = await backend.create({ migrated: true });
      handle = await openDatabase(fresh.url);
    });
    afterAll(async () => {
      await handle?.close();
      await fresh?.drop();
    });

    test("enrol with a code, then each code works once: replay and earlier steps refused, later ones accepted", async () => {
      const db = handle.db;
      const user = await createUser(db, actor, { username: "ann", password: PASSWORD });
      const secret = await enrolmentSecret(db, keys, user);
      expect(await enrolmentSecret(db, keys, user)).toBe(secret); // the same QR code until confirmed
      const stored = await db.selectFrom("mfa_secrets").select("secret_encrypted").executeTakeFirstOrThrow();
      expect(stored.secret_encrypted).not.toContain(secret);
      const now = 1_764_000_015_000;
      await expect(confirmEnrolment(db, keys, actor, user, "000000", now).catch((e) => e.code)).resolves.toBe("mfa_wrong_code");
      const codes = await confirmEnrolment(db, keys, actor, user, oathtool(secret, now), now);
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      expect(await mfaStatus(db, user.id)).toEqual({ enrolled: true, recoveryCodesLeft: 10 });
      // The step used to confirm is spent.
      expect(await verifySecondFactor(db, keys, user, oathtool(secret, now), now)).toEqual({ ok: false });
      // The next step: accepted once, and then not again, not even a moment later.
      const later = now + STEP_MS;
      expect(await verifySecondFactor(db, keys, user, oathtool(secret, later), later)).toEqual({ ok: true, via: "totp" });
      expect(await verifySecondFactor(db, keys, user, oathtool(secret, later), later + 1000)).toEqual({ ok: false });
      // A code from the step before the last accepted one is refused even though it is inside the window.
      const after = later + STEP_MS;
      expect(await verifySecondFactor(db, keys, user, oathtool(secret, later - STEP_MS), later)).toEqual({ ok: false });
      expect(await verifySecondFactor(db, keys, user, oathtool(secret, after + STEP_MS), after)).toEqual({ ok: true, via: "totp" });
      // Two steps ago is refused whatever was used before.
      const much = after + 10 * STEP_MS;
      expect(await verifySecondFactor(db, keys, user, oathtool(secret, much - 2 * STEP_MS), much)).toEqual({ ok: false });
      // A recovery code works once, typed in any case and with or without dashes; stored hashed.
      const rows = await db.selectFrom("mfa_recovery_codes").select("code_hash").execute();
      expect(rows.map((r) => r.code_hash)).not.toContain(codes[0]);
      expect(await verifySecondFactor(db, keys, user, codes[0]!.toUpperCase().replaceAll("-", " "), much)).toEqual({ ok: true, via: "recovery", recoveryCodesLeft: 9 });
      expect(await verifySecondFactor(db, keys, user, codes[0]!, much)).toEqual({ ok: false });
      // Two answers racing with one code: exactly one wins.
      const race = much + 5 * STEP_MS;
      const results = await Promise.all([1, 2, 3].map(() => verifySecondFactor(db, keys, user, oathtool(secret, race), race)));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const raceRecovery = await Promise.all([1, 2, 3].map(() => verifySecondFactor(db, keys, user, codes[1]!, race)));
      expect(raceRecovery.filter((r) => r.ok)).toHaveLength(1);
      // Enrolling again is refused while MFA is on; a reset (audited) removes everything.
      await expect(enrolmentSecret(db, keys, user).catch((e) => e.code)).resolves.toBe("mfa_already_enrolled");
      expect(await resetMfa(db, actor, "ANN")).toEqual({ username: "ann", enrolled: true });
      expect(await mfaStatus(db, user.id)).toEqual({ enrolled: false, recoveryCodesLeft: 0 });
      const audit = await db.selectFrom("audit_log").select(["action", "target"]).where("action", "like", "user.mfa%").orderBy("id").execute();
      expect(audit).toEqual([{ action: "user.mfa_enrol", target: "ann" }, { action: "user.mfa_reset", target: "ann" }]);
    });
  });

  describe.skipIf(oathtoolMissing)(`${backend.name}: mfa reset from the command line`, () => {
    test("removes the user's MFA, audited as the CLI; an unknown user exits 1 with one line", async () => {
      const fresh = await backend.create({ migrated: true });
      try {
        let handle = await openDatabase(fresh.url);
        const keys = deriveMfaKeys([TEST_SECRET]);
        const user = await createUser(handle.db, actor, { username: "bea", password: PASSWORD });
        const secret = await enrolmentSecret(handle.db, keys, user);
        await confirmEnrolment(handle.db, keys, actor, user, oathtool(secret, Date.now()));
        await handle.close();
        const reset = await runCli(["mfa", "reset", "--username", "BEA", "--database-url", fresh.url]);
        expect(reset.stderr).toBe("");
        expect(reset.exitCode).toBe(0);
        expect(reset.stdout).toContain("two-step sign-in removed for user 'bea'");
        const missing = await runCli(["mfa", "reset", "--username", "nobody", "--database-url", fresh.url]);
        expect(missing.exitCode).toBe(1);
        expect(missing.stderr.trim().split("\n")).toHaveLength(1);
        expect(missing.stderr).toContain("error:");
        handle = await openDatabase(fresh.url);
        expect(await handle.db.selectFrom("mfa_secrets").selectAll().execute()).toEqual([]);
        expect(await handle.db.selectFrom("mfa_recovery_codes").selectAll().execute()).toEqual([]);
        const audit = await handle.db.selectFrom("audit_log").select(["actor", "source"]).where("action", "=", "user.mfa_reset").executeTakeFirstOrThrow();
        expect(audit.source).toBe("cli");
        expect(audit.actor).toStartWith("cli:");
        await handle.close();
      } finally {
        await fresh.drop();
      }
    });
  });
}

/** The name=value part of the Set-Cookie named `name`, if the response set one. */
const cookieOf = (response: Response, name: string) => response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`))?.split(";")[0];
const csrfFieldOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)![1]!;

for (const backend of testBackends()) {
  describe.skipIf(oathtoolMissing)(`${backend.name}: signing in with two-step sign-in`, () => {
    let server: TestEndpoint;
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const post = (path: string, cookie: string, fields: Record<string, string>, origin = server.origin) =>
      server.request(path, { method: "POST", cookie, headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html", origin }, body: form(fields) });

    /** The password step through the real form; returns the response and the cookies the second step needs. */
    async function passwordStep(username: string, next = "/") {
      const page = await server.request("/login");
      const csrfCookie = cookieOf(page, "endpoint_login_csrf")!;
      const response = await post("/login", csrfCookie, { username, password: PASSWORD, _csrf: csrfFieldOf(await page.text()), next });
      return { response, challenge: cookieOf(response, "endpoint_mfa") };
    }
    /** GET /login/mfa, then POST the code with the page's CSRF token. */
    async function codeStep(challenge: string, code: string, { origin = server.origin, badCsrf = false } = {}) {
      const page = await server.request("/login/mfa", { cookie: challenge });
      expect(page.status).toBe(200);
      const html = await page.text();
      const csrfCookie = cookieOf(page, "endpoint_login_csrf")!;
      return { page: html, response: await post("/login/mfa", `${challenge}; ${csrfCookie}`, { code, _csrf: badCsrf ? "x".repeat(43) : csrfFieldOf(html) }, origin) };
    }
    const sessionOf = (response: Response) => cookieOf(response, server.config.auth.cookieName);
    /** Enrol through /account: the secret from the page, confirmed with a code made by oathtool at `atMs`. */
    async function enrolOnAccountPage(username: string, atMs: number) {
      const session = await server.signIn(username);
      const started = await post("/account/mfa/enrol", session.cookie, { _csrf: session.csrfToken });
      expect(started.status).toBe(200);
      const page = await started.text();
      const secret = /class="mfa-secret">([A-Z2-7 ]+)</.exec(page)![1]!.replaceAll(" ", "");
      expect(page).toContain(`otpauth://totp/Endpoint:${username}?secret=${secret}&issuer=Endpoint`);
      const wrong = await post("/account/mfa/confirm", session.cookie, { _csrf: session.csrfToken, code: oathtool(secret, atMs - 3 * STEP_MS) });
      expect(wrong.status).toBe(422);
      expect(await wrong.text()).toContain(secret.match(/.{1,4}/g)!.join(" ")); // the same secret, to try again
      const confirmed = await post("/account/mfa/confirm", session.cookie, { _csrf: session.csrfToken, code: oathtool(secret, atMs) });
      expect(confirmed.status).toBe(200);
      const done = await confirmed.text();
      const codes = [...done.matchAll(/<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})<\/code>/g)].map((m) => m[1]!);
      expect(codes).toHaveLength(10);
      expect(done).toContain("Two-step sign-in is on");
      return { secret, codes };
    }

    /** endpoint_auth_failures_total by reason, as a scraper reads it from /metrics. */
    const signInFailures = async () => {
      const { token } = await server.tokenFor("scraper", { name: `scrape-${crypto.randomUUID()}` });
      const text = await (await server.request("/metrics", { token })).text();
      const count = (reason: string) => Number(new RegExp(`^endpoint_auth_failures_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
      return { csrf: count("csrf"), wrong_code: count("wrong_code"), other: count("other") };
    };
    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("joe", ["users"]);
      await server.addUser("kim");
      await server.addUser("scraper", ["metrics"]);
    });
    afterAll(() => server?.close());

    test("after the password, no session until a code from the app; the code works once; the next step's code works", async () => {
      const t0 = await midStep();
      // Enrolment spends the previous step, so the current and next steps are left for sign-ins.
      const { secret } = await enrolOnAccountPage("joe", t0 - STEP_MS);
      const first = await passwordStep("joe", "/account");
      expect(first.response.status).toBe(303);
      expect(first.response.headers.get("location")).toBe("/login/mfa");
      expect(sessionOf(first.response)).toBeUndefined();
      expect(first.response.headers.getSetCookie().find((c) => c.startsWith("endpoint_mfa="))).toContain("HttpOnly; SameSite=Strict");
      // The pending state is no session: it opens nothing.
      const refused = await server.request("/account", { cookie: first.challenge!, headers: { accept: "text/html" } });
      expect(refused.status).toBe(302);
      // CSRF on the second step: a forged token or another site's form is refused, and nothing is spent.
      const failuresBefore = await signInFailures();
      const forged = await codeStep(first.challenge!, oathtool(secret, t0), { badCsrf: true });
      expect(forged.response.status).toBe(403);
      const foreign = await codeStep(first.challenge!, oathtool(secret, t0), { origin: "https://evil.example" });
      expect(foreign.response.status).toBe(403);
      const wrongCode = await codeStep(first.challenge!, "000000");
      expect(wrongCode.response.status).toBe(401);
      // /metrics counts each under its reason (endpoint_auth_failures_total), none as "other".
      const failuresAfter = await signInFailures();
      expect({
        csrf: failuresAfter.csrf - failuresBefore.csrf,
        wrong_code: failuresAfter.wrong_code - failuresBefore.wrong_code,
        other: failuresAfter.other - failuresBefore.other,
      }).toEqual({ csrf: 2, wrong_code: 1, other: 0 });
      const good = await codeStep(first.challenge!, oathtool(secret, t0));
      expect(good.page).toContain('autocomplete="one-time-code"');
      expect(good.response.status).toBe(303);
      expect(good.response.headers.get("location")).toBe("/account");
      const session = sessionOf(good.response)!;
      expect((await server.request("/account", { cookie: session })).status).toBe(200);
      // The challenge is spent: it cannot make a second session.
      const again = await post("/login/mfa", first.challenge!, { code: oathtool(secret, t0), _csrf: "x" });
      expect(again.status).toBe(303);
      expect(again.headers.get("location")).toBe("/login");
      // Replay: the same code at a new sign-in is refused.
      const second = await passwordStep("joe");
      const replay = await codeStep(second.challenge!, oathtool(secret, t0));
      expect(replay.response.status).toBe(401);
      expect(sessionOf(replay.response)).toBeUndefined();
      // The next step's code (the phone's clock a little ahead) is accepted.
      const ahead = await codeStep(second.challenge!, oathtool(secret, t0 + STEP_MS));
      expect(ahead.response.status).toBe(303);
      expect(sessionOf(ahead.response)).toBeDefined();
      const audit = await server.database.db.selectFrom("audit_log").select(["actor", "source"]).where("action", "=", "user.mfa_enrol").where("target", "=", "joe").execute();
      expect(audit).toEqual([{ actor: "joe", source: "web" }]);
    });

    test("turning it on needs a recent password (sudo mode): a stale session is asked to confirm and nothing changes", async () => {
      await server.addUser("lee");
      const session = await server.signIn("lee");
      const idHash = new Bun.CryptoHasher("sha256").update(session.cookie.split("=")[1]!).digest("hex");
      await server.database.db.updateTable("sessions").set({ authenticated_at: new Date(Date.now() - 11 * 3600_000) }).where("id_hash", "=", idHash).execute();
      server.endpoint.cache.forgetSession(idHash);
      const started = await post("/account/mfa/enrol", session.cookie, { _csrf: session.csrfToken });
      expect(started.status).toBe(200);
      const secret = /class="mfa-secret">([A-Z2-7 ]+)</.exec(await started.text())![1]!.replaceAll(" ", "");
      const confirm = await post("/account/mfa/confirm", session.cookie, { _csrf: session.csrfToken, code: oathtool(secret, Date.now()) });
      expect(confirm.status).toBe(403);
      expect(await confirm.text()).toContain("Confirm your password");
      const user = (await server.database.db.selectFrom("users").select("id").where("username", "=", "lee").executeTakeFirstOrThrow());
      expect((await mfaStatus(server.database.db, user.id)).enrolled).toBe(false);
    });

    test("a recovery code signs in once; codes are throttled with the passwords; mfa reset lets the password alone in", async () => {
      const t0 = await midStep();
      const { codes } = await enrolOnAccountPage("kim", t0);
      const first = await passwordStep("kim");
      const recovered = await codeStep(first.challenge!, codes[3]!);
      expect(recovered.response.status).toBe(303);
      const second = await passwordStep("kim");
      // Wrong codes count like wrong passwords (10 in the window, per username and per address), and a right
      // password does not clear them: past the limit both the code and the password are refused.
      await server.database.db.deleteFrom("login_throttle").execute();
      expect((await codeStep(second.challenge!, codes[3]!)).response.status).toBe(401);
      for (let i = 0; i < 9; i++) expect((await codeStep(second.challenge!, "123456")).response.status).toBe(401);
      const locked = await codeStep(second.challenge!, codes[4]!);
      expect(locked.response.status).toBe(429);
      expect(Number(locked.response.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await passwordStep("kim")).response.status).toBe(429);
      // The way back in: the machine's administrator resets it (in-process here; the CLI test runs the command).
      await server.database.db.deleteFrom("login_throttle").execute();
      expect(await resetMfa(server.database.db, actor, "kim")).toEqual({ username: "kim", enrolled: true });
      const plain = await passwordStep("kim");
      expect(plain.response.status).toBe(303);
      expect(plain.response.headers.get("location")).toBe("/");
      expect(sessionOf(plain.response)).toBeDefined();
      expect(plain.challenge).toBeUndefined();
    });
  });

  describe.skipIf(oathtoolMissing)(`${backend.name}: auth.mfa.required_for`, () => {
    let server: TestEndpoint;
    beforeAll(async () => {
      const yaml = (await Bun.file(join(ROOT, "endpoint.yaml")).text()).replace("  admin_group: admin\n", "  admin_group: admin\n  mfa:\n    required_for: [admin]\n");
      expect(yaml).toContain("required_for: [admin]");
      const dir = mkdtempSync(join(tmpdir(), "endpoint-mfa-required-"));
      process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
      await Bun.write(join(dir, "endpoint.yaml"), yaml);
      server = await startTestEndpoint(backend, { configFile: join(dir, "endpoint.yaml"), routesDir: join(ROOT, "routes") });
      await server.addUser("root", ["admin"]);
      await server.addUser("joe", ["users"]);
    });
    afterAll(() => server?.close());

    test("a member of a required group enrols after the password, before any session; others sign in as before", async () => {
      expect(server.config.auth.mfaRequiredFor).toEqual(["admin"]);
      await server.signIn("joe"); // not in a required group: the password is enough
      const t0 = await midStep();
      const loginPage = await server.request("/login");
      const csrfCookie = cookieOf(loginPage, "endpoint_login_csrf")!;
      const password = await server.request("/login", {
        method: "POST",
        cookie: csrfCookie,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin },
        body: new URLSearchParams({ username: "root", password: PASSWORD, _csrf: csrfFieldOf(await loginPage.text()), next: "/admin" }).toString(),
      });
      expect(password.status).toBe(303);
      expect(password.headers.get("location")).toBe("/login/mfa");
      expect(cookieOf(password, server.config.auth.cookieName)).toBeUndefined();
      const challenge = cookieOf(password, "endpoint_mfa")!;
      const enrol = await server.request("/login/mfa", { cookie: challenge });
      const page = await enrol.text();
      expect(page).toContain("Turn on two-step sign-in");
      const secret = /class="mfa-secret">([A-Z2-7 ]+)</.exec(page)![1]!.replaceAll(" ", "");
      const done = await server.request("/login/mfa", {
        method: "POST",
        cookie: `${challenge}; ${cookieOf(enrol, "endpoint_login_csrf")!}`,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin },
        body: new URLSearchParams({ code: oathtool(secret, t0), _csrf: csrfFieldOf(page) }).toString(),
      });
      expect(done.status).toBe(200);
      const donePage = await done.text();
      expect([...donePage.matchAll(/<code>[a-z2-9-]{19}<\/code>/g)]).toHaveLength(10);
      expect(donePage).toContain('href="/admin"');
      const session = cookieOf(done, server.config.auth.cookieName)!;
      expect((await server.request("/account", { cookie: session })).status).toBe(200);
      // From now on root's sign-in asks for a code.
      const login2 = await server.request("/login");
      const next = await server.request("/login", {
        method: "POST",
        cookie: cookieOf(login2, "endpoint_login_csrf")!,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.origin },
        body: new URLSearchParams({ username: "root", password: PASSWORD, _csrf: csrfFieldOf(await login2.text()), next: "/" }).toString(),
      });
      expect(next.headers.get("location")).toBe("/login/mfa");
      expect(await (await server.request("/login/mfa", { cookie: cookieOf(next, "endpoint_mfa")! })).text()).toContain("Enter your code");
    });
  });
}
