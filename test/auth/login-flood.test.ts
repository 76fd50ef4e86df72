// A flood of wrong passwords gets the answers it should — 401, 429 past the throttle, 503 with Retry-After when the
// password queue is full — while the right password still signs in and other routes keep answering. Correctness
// only: how fast is the benchmark's to say (bun run bench, "login flood").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PasswordPool } from "../../src/accounts/password-pool.ts";
import { PasswordGate } from "../../src/auth/password-gate.ts";
import { EndpointError } from "../../src/errors.ts";
import { testBackends } from "../support/backends.ts";
import { PASSWORD, type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const SPREAD_ATTEMPTS = 80; // each from its own address, for a name that does not exist
const ONE_ADDRESS_ATTEMPTS = 20; // all from one address: the throttle refuses those past its limit (10)
const LOCKED_ADDRESS = "192.0.2.1";

describe("the password gate", () => {
  test("beyond the threads and the waiting room, a check is refused with 503 busy without hashing, and the rest are answered", async () => {
    const hash = await Bun.password.hash("the right one", { algorithm: "argon2id" });
    const gate = new PasswordGate({ pool: new PasswordPool({ size: 1 }), maxWaiting: 2, refusalPauseMs: 10 });
    const outcome = (error: unknown) => (error instanceof EndpointError ? `${error.status} ${error.code}` : "other");
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => gate.verify(i === 0 ? "the right one" : "a wrong one", hash).then(String, outcome)),
    );
    // One checking and two waiting: those three are answered; the other seven are busy without hashing anything.
    expect(outcomes).toEqual(["true", "false", "false", ...Array(7).fill("503 busy")]);
  });

  test("an unknown user is checked against a dummy hash and refused", async () => {
    const gate = new PasswordGate({ pool: new PasswordPool({ size: 1 }) });
    expect(await gate.verify("anything at all", null)).toBe(false);
  });
});

for (const backend of testBackends()) {
  describe(`${backend.name}: a login flood`, () => {
    let server: TestEndpoint;
    let form: { cookie: string; field: string };

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("joe", ["users"]);
      const page = await server.request("/login");
      form = {
        cookie: page.headers.getSetCookie().find((c) => c.startsWith("endpoint_login_csrf="))!.split(";")[0]!,
        field: /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!,
      };
    });
    afterAll(() => server.close());

    const attempt = (username: string, password: string, peer: string) =>
      server.request("/login", {
        method: "POST",
        cookie: form.cookie,
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html", origin: server.origin, "x-test-peer": peer },
        body: new URLSearchParams({ username, password, _csrf: form.field, next: "/" }).toString(),
      });

    test("100 concurrent wrong passwords get 401, 429 or 503 as designed; the right one still signs in; /healthz answers meanwhile", async () => {
      let settled = 0;
      const bad = [
        ...Array.from({ length: SPREAD_ATTEMPTS }, (_, i) => ({ username: `guess${i}`, peer: `10.0.${i >> 8}.${i & 255}` })),
        ...Array.from({ length: ONE_ADDRESS_ATTEMPTS }, (_, i) => ({ username: `other${i}`, peer: LOCKED_ADDRESS })),
      ];
      const flood = bad.map(async ({ username, peer }) => {
        const response = await attempt(username, "not the password!", peer);
        settled++;
        return { peer, status: response.status, retryAfter: response.headers.get("retry-after"), body: await response.text() };
      });

      // The right password, in the middle of it, from its own address: a person told "busy" comes back when told to.
      const rightOne = (async () => {
        const seen: number[] = [];
        for (let tries = 0; tries < 5; tries++) {
          const response = await attempt("joe", PASSWORD, "203.0.113.5");
          seen.push(response.status);
          if (response.status !== 503) return { seen, cookie: response.headers.getSetCookie().find((c) => c.startsWith("endpoint_session=")) };
          await Bun.sleep(Number(response.headers.get("retry-after")) * 1000);
        }
        return { seen, cookie: undefined };
      })();

      // Other routes answer while the flood is still being checked.
      for (let i = 0; i < 5; i++) {
        const health = await server.request("/healthz");
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ status: "ok" });
      }
      expect(settled).toBeLessThan(bad.length);

      const answers = await Promise.all(flood);
      const count = (status: number) => answers.filter((a) => a.status === status).length;
      expect(answers.filter((a) => ![401, 429, 503].includes(a.status))).toEqual([]);
      expect(count(401) + count(429) + count(503)).toBe(bad.length);
      // Attempts spread over addresses are never throttled. From one address, at most its limit (10) are judged
      // wrong and the rest are throttled — and an attempt refused as busy (503) was never judged, so it is given
      // back: it does not bring the address nearer a lock-out.
      expect(answers.filter((a) => a.status === 429 && a.peer !== LOCKED_ADDRESS)).toEqual([]);
      const fromLocked = answers.filter((a) => a.peer === LOCKED_ADDRESS);
      const judgedWrong = fromLocked.filter((a) => a.status === 401).length;
      expect(judgedWrong).toBeLessThanOrEqual(10);
      expect(fromLocked.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(ONE_ADDRESS_ATTEMPTS - 10);
      const charged = await server.database.db.selectFrom("login_throttle").select("failures").where("key", "=", `address:${LOCKED_ADDRESS}`).executeTakeFirstOrThrow();
      // Every attempt counts (a throttled one too), except those refused as busy.
      expect(charged.failures).toBe(fromLocked.length - fromLocked.filter((a) => a.status === 503).length);
      const busy = answers.filter((a) => a.status === 503 && a.peer !== LOCKED_ADDRESS);
      if (busy.length) {
        const spread = await server.database.db.selectFrom("login_throttle").select("failures").where("key", "=", `address:${busy[0]!.peer}`).executeTakeFirst();
        expect(spread?.failures ?? 0).toBe(0); // one attempt from that address, refused as busy: nothing charged
      }
      for (const refused of answers.filter((a) => a.status === 429 || a.status === 503)) expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      // Nothing is signed in, and no answer is a crash.
      expect(answers.some((a) => /something went wrong/i.test(a.body))).toBe(false);

      const { seen, cookie } = await rightOne;
      expect(seen.at(-1)).toBe(303);
      expect(seen.slice(0, -1).every((status) => status === 503)).toBe(true);
      expect((await server.request("/api/me", { cookie: cookie!.split(";")[0] })).status).toBe(200);
    });
  });
}
