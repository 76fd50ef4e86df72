// Token verification refuses everything but an unexpired HS256 Endpoint token signed with one of our secrets.
import { describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { keyId } from "../../src/auth/secret.ts";
import { TokenCodec } from "../../src/auth/token-codec.ts";

const SECRET = "s".repeat(8) + "0123456789abcdefghijklmnopqrstuvwxyz";
const OLD_SECRET = "o".repeat(8) + "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210";
const codec = new TokenCodec({ signing: SECRET, verifying: [SECRET], source: "environment" });
const id = crypto.randomUUID();
const userId = crypto.randomUUID();
const inAnHour = () => new Date(Date.now() + 3600_000);
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
async function forge(header: Record<string, unknown>, payload: Record<string, unknown>, secret = key): Promise<string> {
  return `ept_${await new SignJWT(payload).setProtectedHeader(header as any).sign(secret)}`;
}
const goodPayload = () => ({ jti: id, sub: userId, aud: "endpoint:api", iat: now(), exp: now() + 3600 });

describe("API token verification", () => {
  test("a token we signed verifies, and carries its id, owner and expiry", async () => {
    const token = await codec.sign({ id, userId, expiresAt: inAnHour() });
    expect(token).toMatch(/^ept_eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    const verified = await codec.verify(token);
    expect(verified?.id).toBe(id);
    expect(verified?.userId).toBe(userId);
    const header = JSON.parse(Buffer.from(token.slice(4).split(".")[0]!, "base64url").toString());
    expect(header).toEqual({ alg: "HS256", typ: "ept+jwt", kid: keyId(SECRET) });
  });

  const refused: Array<[string, () => Promise<string>]> = [
    ["alg none with an empty signature", async () => `ept_${b64({ alg: "none", typ: "ept+jwt" })}.${b64(goodPayload())}.`],
    ["HS512 signed with the same secret", () => forge({ alg: "HS512", typ: "ept+jwt" }, goodPayload())],
    ["an RS256 header", async () => `ept_${b64({ alg: "RS256", typ: "ept+jwt" })}.${b64(goodPayload())}.c2ln`],
    ["a flipped payload character", async () => {
      const [h, p, s] = (await codec.sign({ id, userId, expiresAt: inAnHour() })).slice(4).split(".");
      const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
      payload.sub = crypto.randomUUID();
      return `ept_${h}.${b64(payload)}.${s}`;
    }],
    ["a stripped signature", async () => (await codec.sign({ id, userId, expiresAt: inAnHour() })).replace(/\.[\w-]+$/, ".")],
    ["the wrong secret", () => forge({ alg: "HS256", typ: "ept+jwt" }, goodPayload(), new TextEncoder().encode(OLD_SECRET))],
    ["a past exp", () => forge({ alg: "HS256", typ: "ept+jwt" }, { ...goodPayload(), exp: now() - 60 })],
    ["no exp", () => forge({ alg: "HS256", typ: "ept+jwt" }, { ...goodPayload(), exp: undefined })],
    ["no jti", () => forge({ alg: "HS256", typ: "ept+jwt" }, { ...goodPayload(), jti: undefined })],
    ["a future nbf", () => forge({ alg: "HS256", typ: "ept+jwt" }, { ...goodPayload(), nbf: now() + 600 })],
    ["another kind of JWT signed with our secret (typ JWT)", () => forge({ alg: "HS256", typ: "JWT" }, goodPayload())],
    ["another audience (a setup link)", () => forge({ alg: "HS256", typ: "ept+jwt" }, { ...goodPayload(), aud: "endpoint:setup" })],
    ["a jti that is not a token id", () => forge({ alg: "HS256", typ: "ept+jwt" }, { ...goodPayload(), jti: "1 OR 1=1" })],
    ["ept_abc", async () => "ept_abc"],
    ["no prefix", async () => (await codec.sign({ id, userId, expiresAt: inAnHour() })).slice(4)],
    ["ept_ept_…", async () => `ept_${await codec.sign({ id, userId, expiresAt: inAnHour() })}`],
    ["a 10 KB token", async () => `ept_${"a".repeat(10_000)}`],
  ];
  for (const [what, make] of refused)
    test(`refuses ${what}`, async () => {
      expect(await codec.verify(await make())).toBeNull();
    });

  test("a token signed with a previous secret still verifies while that secret is listed", async () => {
    const old = new TokenCodec({ signing: OLD_SECRET, verifying: [OLD_SECRET], source: "environment" });
    const token = await old.sign({ id, userId, expiresAt: inAnHour() });
    const rotated = new TokenCodec({ signing: SECRET, verifying: [SECRET, OLD_SECRET], source: "environment" });
    expect((await rotated.verify(token))?.id).toBe(id);
    expect(await codec.verify(token)).toBeNull();
  });
});
