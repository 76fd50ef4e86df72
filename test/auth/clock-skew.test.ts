// An instance whose clock is 10 minutes off still ends sessions and tokens when the database's clock says so: the
// guard judges every expiry in database time (a measured offset), without a database round trip per request. The
// instance's clock is injected into the auth cache; the system clock is never touched.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { ActivityRecorder } from "../../src/auth/activity.ts";
import { actorFor } from "../../src/auth/actor.ts";
import { AuthCache } from "../../src/auth/auth-cache.ts";
import { CredentialAuthenticator } from "../../src/auth/authenticate.ts";
import { createSession } from "../../src/auth/sessions.ts";
import { TokenCodec } from "../../src/auth/token-codec.ts";
import { testBackends } from "../support/backends.ts";
import { type TestEndpoint, startTestEndpoint } from "../support/endpoint.ts";

const MINUTE_MS = 60_000;
/** How far inside or past each limit the cases sit: much less than the skew, so a naive check gets them wrong. */
const MARGIN_SECONDS = 120;
const SKEWS = [
  { name: "10 minutes fast", ms: 10 * MINUTE_MS },
  { name: "10 minutes slow", ms: -10 * MINUTE_MS },
];

for (const backend of testBackends()) {
  describe(`${backend.name}: expiries follow the database's clock, not the instance's`, () => {
    let server: TestEndpoint;
    let userId: string;

    beforeAll(async () => {
      server = await startTestEndpoint(backend);
      await server.addUser("joe", ["users"]);
      userId = (await server.database.db.selectFrom("users").select("id").where("username", "=", "joe").executeTakeFirstOrThrow()).id;
    });
    afterAll(() => server.close());

    /** The guard's view from an instance whose clock reads `skewMs` off, after it measured the database's clock. */
    async function skewedInstance(skewMs: number) {
      const cache = new AuthCache(server.database.db, { localClock: () => Date.now() + skewMs });
      await cache.clock.measure();
      // As assembleEndpoint does: the codec judges `exp` by the cache's database clock.
      const codec = new TokenCodec(server.endpoint.secrets, cache.clock);
      const authenticator = new CredentialAuthenticator(server.config, cache, codec, new ActivityRecorder(server.database.db, server.log));
      const bySession = (cookieValue: string) =>
        authenticator.authenticate(new Request(`${server.origin}/x`, { headers: { cookie: `${server.config.auth.cookieName}=${cookieValue}` } }), ["session"]);
      const byToken = (token: string) => authenticator.authenticate(new Request(`${server.origin}/x`, { headers: { authorization: `Bearer ${token}` } }), ["token"]);
      return { cache, bySession, byToken, codec };
    }

    /** A session whose database timestamps are set relative to the database's now(). */
    async function sessionWith(times: { lastSeenSecondsAgo?: number; createdSecondsAgo?: number; authenticatedSecondsAgo?: number }) {
      const session = await createSession(server.database.db, userId, {});
      const ago = (seconds = 0) => sql<Date>`now() - make_interval(secs => ${seconds})`;
      // created_at is written only at insert in the table types; aging a session is what this test is for.
      await server.database.db
        .updateTable("sessions")
        .set({ last_seen_at: ago(times.lastSeenSecondsAgo), created_at: ago(times.createdSecondsAgo), authenticated_at: ago(times.authenticatedSecondsAgo) } as any)
        .where("id_hash", "=", session.idHash)
        .execute();
      return session.cookieValue;
    }

    for (const skew of SKEWS) {
      test(`an instance ${skew.name} measures the offset to the database's clock`, async () => {
        const { cache } = await skewedInstance(skew.ms);
        expect(Math.abs(cache.clock.sample.offsetMs + skew.ms)).toBeLessThan(1_000);
      });

      test(`an instance ${skew.name}: a session within its idle and absolute limits by database time is accepted, one past either is refused`, async () => {
        const idle = server.config.auth.sessionIdleSeconds;
        const absolute = server.config.auth.sessionAbsoluteSeconds;
        const cases = [
          { what: "last seen just within the idle limit", times: { lastSeenSecondsAgo: idle - MARGIN_SECONDS }, accepted: true },
          { what: "last seen just past the idle limit", times: { lastSeenSecondsAgo: idle + MARGIN_SECONDS }, accepted: false },
          { what: "made just within the absolute limit", times: { createdSecondsAgo: absolute - MARGIN_SECONDS }, accepted: true },
          { what: "made just past the absolute limit", times: { createdSecondsAgo: absolute + MARGIN_SECONDS }, accepted: false },
        ];
        const { bySession } = await skewedInstance(skew.ms);
        const outcomes = [];
        for (const c of cases) outcomes.push({ what: c.what, accepted: (await bySession(await sessionWith(c.times))).principal !== null });
        expect(outcomes).toEqual(cases.map((c) => ({ what: c.what, accepted: c.accepted })));
      });

      test(`an instance ${skew.name}: a token that ends soon by database time is accepted, one whose record has ended is refused`, async () => {
        const { byToken, codec } = await skewedInstance(skew.ms);
        const endsSoon = await server.tokenFor("joe", { expiresInSeconds: MARGIN_SECONDS });
        expect((await byToken(endsSoon.token)).principal?.username).toBe("joe");
        // The signed `exp` too: judged by the instance's own clock, a fast instance would refuse it.
        expect((await codec.verify(endsSoon.token))?.id).toBe(endsSoon.id);
        const byOwnClock = await new TokenCodec(server.endpoint.secrets, { now: () => Date.now() + skew.ms }).verify(endsSoon.token);
        expect(byOwnClock === null).toBe(skew.ms > MARGIN_SECONDS * 1000);
        // The record ended a little while ago while the signed token still runs: the record decides.
        const ended = await server.tokenFor("joe", { expiresInSeconds: 3600 });
        await server.database.db.updateTable("api_tokens").set({ expires_at: sql<Date>`now() - make_interval(secs => ${MARGIN_SECONDS})` }).where("id", "=", ended.id).execute();
        const refused = await byToken(ended.token);
        expect(refused.principal).toBeNull();
        expect(refused.failure).toBe("token has expired");
      });

      test(`an instance ${skew.name}: the sudo window is judged in database time too`, async () => {
        const reauth = server.config.auth.reauthAfterSeconds;
        const { cache, bySession } = await skewedInstance(skew.ms);
        const recently = async (authenticatedSecondsAgo: number) => {
          const result = await bySession(await sessionWith({ authenticatedSecondsAgo }));
          // The pipeline makes the actor with the instance's own clock.
          return actorFor(result.principal!, { source: "web", session: result.session, reauthAfterSeconds: reauth, now: cache.clock.localNow() }).recentlyAuthenticated;
        };
        expect(await recently(reauth - MARGIN_SECONDS)).toBe(true);
        expect(await recently(reauth + MARGIN_SECONDS)).toBe(false);
      });
    }
  });
}
