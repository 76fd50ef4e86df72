// Users, groups and memberships through the functions the CLI, pages and API share, on every backend.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type DatabaseHandle, openDatabase } from "../../db/open.ts";
import { listAudit } from "../../src/accounts/audit.ts";
import { addMember, createGroup, listGroups, removeMember } from "../../src/accounts/groups.ts";
import { createUser, findUser, listUsers, setDisabled, setPassword } from "../../src/accounts/users.ts";
import { verifyPassword } from "../../src/accounts/passwords.ts";
import { accountRules } from "../../src/accounts/rules.ts";
import { EndpointError } from "../../src/errors.ts";
import { type FreshDatabase, testBackends } from "../support/backends.ts";

const actor = { name: "tester", source: "api" as const, clientAddress: "203.0.113.9", recentlyAuthenticated: true };
const rules = accountRules();

for (const backend of testBackends()) {
  describe(`${backend.name}: users and groups`, () => {
    let database: FreshDatabase;
    let handle: DatabaseHandle;
    beforeAll(async () => {
      database = await backend.create({ migrated: true });
      handle = await openDatabase(database.url);
    });
    afterAll(async () => {
      await handle.close();
      await database.drop();
    });

    test("two users with the same password get different argon2id hashes", async () => {
      await createUser(handle.db, actor, { username: "ann", password: "same password here" });
      await createUser(handle.db, actor, { username: "bob", password: "same password here" });
      const [ann, bob] = await Promise.all([findUser(handle.db, "ann"), findUser(handle.db, "BOB")]);
      expect(ann!.password_hash).toStartWith("$argon2id$");
      expect(bob!.password_hash).toStartWith("$argon2id$");
      expect(ann!.password_hash).not.toBe(bob!.password_hash);
      expect(await verifyPassword("same password here", ann!.password_hash)).toBe(true);
    });

    test("the password policy counts characters, not bytes, and has both bounds", async () => {
      const attempt = (password: string, username = `u${crypto.randomUUID().slice(0, 8)}`) =>
        createUser(handle.db, actor, { username, password }).then(
          () => "created",
          (e: EndpointError) => `${e.status} ${e.code}`,
        );
      expect(await attempt("a".repeat(11))).toBe("422 password_too_short");
      expect(await attempt("pässwörd 🔑 with spaces")).toBe("created");
      expect(await attempt("🔑".repeat(12))).toBe("created");
      expect(await attempt("x".repeat(128))).toBe("created");
      expect(await attempt("x".repeat(129))).toBe("422 password_too_long");
      expect(await attempt("Password1234")).toBe("422 password_common");
    });

    test("a password differing only at character 100 does not verify: nothing is truncated", async () => {
      const password = `${"p".repeat(99)}A${"q".repeat(20)}`;
      const ann0 = (await findUser(handle.db, "ann"))!;
      await handle.db.insertInto("sessions").values({ id_hash: "before-change", user_id: ann0.id, csrf_token: "c" }).execute();
      await handle.db.insertInto("api_tokens").values({ user_id: ann0.id, name: "t", expires_at: new Date(Date.now() + 86_400_000) }).execute();
      await setPassword(handle.db, actor, "ann", password);
      // A new password ends the sessions and revokes the tokens the old one opened.
      expect(await handle.db.selectFrom("sessions").selectAll().where("user_id", "=", ann0.id).execute()).toEqual([]);
      expect((await handle.db.selectFrom("api_tokens").select("revoked_at").where("user_id", "=", ann0.id).execute()).every((t) => t.revoked_at !== null)).toBe(true);
      const ann = await findUser(handle.db, "ann");
      expect(await verifyPassword(password, ann!.password_hash)).toBe(true);
      expect(await verifyPassword(`${"p".repeat(99)}B${"q".repeat(20)}`, ann!.password_hash)).toBe(false);
    });

    test("memberships show on both sides and disappear when removed", async () => {
      await createGroup(handle.db, actor, { name: "ops", description: "Operations" });
      await addMember(handle.db, rules, actor, "ops", "Ann");
      expect((await listGroups(handle.db)).find((g) => g.name === "ops")!.members).toEqual(["ann"]);
      expect((await listUsers(handle.db, { search: "an" })).users.map((u) => [u.username, u.groups])).toEqual([["ann", ["ops"]]]);
      await removeMember(handle.db, rules, actor, "ops", "ann");
      expect((await listGroups(handle.db)).find((g) => g.name === "ops")!.members).toEqual([]);
    });

    test("search treats % and _ as plain characters", async () => {
      expect((await listUsers(handle.db, { search: "%" })).users).toEqual([]);
      expect((await listUsers(handle.db, { search: "_" })).total).toBe(0);
    });

    test("disabling a user ends their sessions", async () => {
      const ann = (await findUser(handle.db, "ann"))!;
      await handle.db.insertInto("sessions").values({ id_hash: "h1", user_id: ann.id, csrf_token: "c" }).execute();
      await setDisabled(handle.db, rules, actor, "ann", true);
      expect(await handle.db.selectFrom("sessions").selectAll().where("user_id", "=", ann.id).execute()).toEqual([]);
    });

    test("every change is in the audit log, newest first, with who and from where, and no password", async () => {
      const { entries, total } = await listAudit(handle.db, { limit: 100 });
      expect(total).toBe(entries.length);
      expect(entries[0]).toMatchObject({ actor: "tester", source: "api", action: "user.disable", target: "ann", client_address: "203.0.113.9" });
      expect(entries.map((e) => e.action)).toContain("group.add_member");
      expect(JSON.stringify(entries)).not.toContain("same password here");
    });
  });
}
