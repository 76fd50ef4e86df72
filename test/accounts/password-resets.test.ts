// The reset-link core on every backend: what is stored, the rules on use (policy first, once only, even when two
// submits race), and which links a use ends.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type DatabaseHandle, openDatabase } from "../../db/open.ts";
import { createResetLink, hashResetToken, inspectResetLink, useResetLink } from "../../src/accounts/password-resets.ts";
import { accountRules } from "../../src/accounts/rules.ts";
import { createUser, setDisabled } from "../../src/accounts/users.ts";
import { EndpointError } from "../../src/errors.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";
import { PASSWORD } from "../support/endpoint.ts";

const admin = { name: "cli:test", source: "cli" as const, recentlyAuthenticated: true };
const visitor = { source: "web" as const, clientAddress: "192.0.2.1", recentlyAuthenticated: false };
const PUBLIC_URL = "https://endpoint.example";
const codeOf = (error: unknown) => (error instanceof EndpointError ? `${error.status} ${error.code}` : String(error));
const REAUTH = "403 reauth_required";

for (const backend of testBackends()) {
  describe(`${backend.name}: the password-reset core`, () => {
    let fresh: FreshDatabase;
    let handle: DatabaseHandle;
    beforeAll(async () => {
      fresh = await backend.create({ migrated: true });
      handle = await openDatabase(fresh.url);
      await createUser(handle.db, admin, { username: "Joe", password: PASSWORD });
    });
    afterAll(async () => {
      await handle.close();
      await fresh.drop();
    });

    test("a link names the public URL, stores only the hash, and is refused for an unknown user or a bad lifetime", async () => {
      const link = await createResetLink(handle.db, admin, "joe", { publicUrl: `${PUBLIC_URL}/` });
      expect(link.url).toBe(`${PUBLIC_URL}/login/reset?token=${link.token}`);
      expect(link.username).toBe("Joe");
      const row = await handle.db.selectFrom("password_resets").selectAll().where("token_hash", "=", hashResetToken(link.token)).executeTakeFirstOrThrow();
      expect(row.created_by).toBe("cli:test");
      expect(Math.abs(row.expires_at.getTime() - row.created_at.getTime() - 3600_000)).toBeLessThan(1000);
      expect(await inspectResetLink(handle.db, link.token)).toEqual({ state: "valid", username: "Joe" });
      expect(await createResetLink(handle.db, admin, "nobody", { publicUrl: PUBLIC_URL }).catch(codeOf)).toBe("404 user_not_found");
      expect(await createResetLink(handle.db, admin, "joe", { publicUrl: PUBLIC_URL, expiresInSeconds: 8 * 86400 }).catch(codeOf)).toBe("422 bad_expiry");
    });

    test("an actor shown the link must have typed their password lately; a link mailed to the owner needs no one's", async () => {
      const stale = { name: "ann", source: "web" as const, recentlyAuthenticated: false };
      expect(await createResetLink(handle.db, stale, "joe", { publicUrl: PUBLIC_URL }).catch(codeOf)).toBe(REAUTH);
      const mailed = await createResetLink(handle.db, stale, "joe", { publicUrl: PUBLIC_URL, mailedToOwner: true });
      expect(await inspectResetLink(handle.db, mailed.token)).toEqual({ state: "valid", username: "Joe" });
    });

    test("a password that breaks the policy leaves the link unused", async () => {
      const link = await createResetLink(handle.db, admin, "joe", { publicUrl: PUBLIC_URL });
      expect(await useResetLink(handle.db, visitor, link.token, "short").catch(codeOf)).toBe("422 password_too_short");
      expect(await useResetLink(handle.db, visitor, link.token, "password1234").catch(codeOf)).toBe("422 password_common");
      expect((await inspectResetLink(handle.db, link.token)).state).toBe("valid");
    });

    test("two submits of one link at once: exactly one sets the password", async () => {
      const link = await createResetLink(handle.db, admin, "joe", { publicUrl: PUBLIC_URL });
      const results = await Promise.all([
        useResetLink(handle.db, visitor, link.token, "first racer passphrase").then(() => "ok", codeOf),
        useResetLink(handle.db, visitor, link.token, "second racer passphrase").then(() => "ok", codeOf),
      ]);
      expect(results.sort()).toEqual(["410 reset_link_used", "ok"]);
    });

    test("using one link ends the user's other unused links; an unknown token is 404", async () => {
      const first = await createResetLink(handle.db, admin, "joe", { publicUrl: PUBLIC_URL });
      const second = await createResetLink(handle.db, admin, "joe", { publicUrl: PUBLIC_URL });
      expect(await useResetLink(handle.db, visitor, second.token, "the second link wins")).toBe("Joe");
      expect(await inspectResetLink(handle.db, first.token)).toEqual({ state: "used" });
      expect(await useResetLink(handle.db, visitor, first.token, "the first link loses").catch(codeOf)).toBe("410 reset_link_used");
      expect(await useResetLink(handle.db, visitor, "x".repeat(43), "no such link at all").catch(codeOf)).toBe("404 reset_link_unknown");
      expect(await inspectResetLink(handle.db, null)).toEqual({ state: "unknown" });
    });

    test("a disabled account: disabling ends its unused links, no new one is made, and none sets its password", async () => {
      await createUser(handle.db, admin, { username: "mallory-target", password: PASSWORD });
      const before = await createResetLink(handle.db, admin, "mallory-target", { publicUrl: PUBLIC_URL });
      expect(await setDisabled(handle.db, accountRules(), admin, "mallory-target", true)).toBe(true);
      // A link sent before the account was disabled (perhaps to whoever took it) no longer exists.
      expect(await inspectResetLink(handle.db, before.token)).toEqual({ state: "unknown" });
      expect(await useResetLink(handle.db, visitor, before.token, "a password waiting here").catch(codeOf)).toBe("404 reset_link_unknown");
      expect(await createResetLink(handle.db, admin, "mallory-target", { publicUrl: PUBLIC_URL }).catch(codeOf)).toBe("409 user_disabled");
      // Enabled again, then disabled once more while a new link is out: that link is ended too.
      await setDisabled(handle.db, accountRules(), admin, "mallory-target", false);
      const after = await createResetLink(handle.db, admin, "mallory-target", { publicUrl: PUBLIC_URL });
      await handle.db.updateTable("users").set({ disabled: true }).where("username", "=", "mallory-target").execute(); // as if disabled mid-use
      expect(await inspectResetLink(handle.db, after.token)).toEqual({ state: "disabled" });
      expect(await useResetLink(handle.db, visitor, after.token, "a password waiting here").catch(codeOf)).toBe("403 account_disabled");
      const hash = (await handle.db.selectFrom("users").select("password_hash").where("username", "=", "mallory-target").executeTakeFirstOrThrow()).password_hash;
      expect(await Bun.password.verify(PASSWORD, hash)).toBe(true);
    });
  });
}
