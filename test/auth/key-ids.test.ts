// Each token names the key that signed it (`kid`), and verification tries that one key only: a previous secret
// verifies only the tokens it signed, a label cannot send a token to another key, and an unknown kid is refused.
import { describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { keyId } from "../../src/auth/secret.ts";
import { TokenCodec } from "../../src/auth/token-codec.ts";

const CURRENT = "Cur9rent8Secret7With6Enough5Random4Chars3x";
const PREVIOUS = "Pre1vious2Secret3With4Enough5Random6Chars7";
const STRANGER = "Str0anger9Secret8Nobody7Configured6Here5x4";

const rotated = new TokenCodec({ signing: CURRENT, verifying: [CURRENT, PREVIOUS], source: "environment" });
const previousOnly = new TokenCodec({ signing: PREVIOUS, verifying: [PREVIOUS], source: "environment" });
const id = crypto.randomUUID();
const userId = crypto.randomUUID();
const inAnHour = () => new Date(Date.now() + 3600_000);
const now = () => Math.floor(Date.now() / 1000);
const claims = () => ({ jti: id, sub: userId, aud: "endpoint:api", iat: now(), exp: now() + 3600 });
const headerOf = (token: string) => JSON.parse(Buffer.from(token.slice(4).split(".")[0]!, "base64url").toString());

/** A token made by hand: any header (kid included), signed with any secret. */
async function forge(secret: string, header: Record<string, unknown>): Promise<string> {
  const jwt = await new SignJWT(claims()).setProtectedHeader({ alg: "HS256", typ: "ept+jwt", ...header } as any).sign(new TextEncoder().encode(secret));
  return `ept_${jwt}`;
}

describe("key ids", () => {
  test("a new token carries the kid of the current key: 16 hex digits derived from the secret, never the secret", async () => {
    const token = await rotated.sign({ id, userId, expiresAt: inAnHour() });
    const header = headerOf(token);
    expect(header.kid).toBe(keyId(CURRENT));
    expect(header.kid).toMatch(/^[0-9a-f]{16}$/);
    expect(keyId(PREVIOUS)).not.toBe(keyId(CURRENT));
    expect(Buffer.from(token.slice(4).split(".")[0]!, "base64url").toString()).not.toContain(CURRENT.slice(0, 8));
  });

  test("a token signed with a previous secret verifies through its kid while that secret is listed", async () => {
    const token = await previousOnly.sign({ id, userId, expiresAt: inAnHour() });
    expect(headerOf(token).kid).toBe(keyId(PREVIOUS));
    expect((await rotated.verify(token))?.id).toBe(id);
  });

  test("dropping a previous secret retires its tokens", async () => {
    const token = await previousOnly.sign({ id, userId, expiresAt: inAnHour() });
    const retired = new TokenCodec({ signing: CURRENT, verifying: [CURRENT], source: "environment" });
    expect(await retired.verify(token)).toBeNull();
  });

  const refused: Array<[string, () => Promise<string>]> = [
    ["a token labelled with the previous key's kid but signed with the current key", () => forge(CURRENT, { kid: keyId(PREVIOUS) })],
    ["a token labelled with the current key's kid but signed with the previous key", () => forge(PREVIOUS, { kid: keyId(CURRENT) })],
    ["a token signed by a key we do not have, naming it", () => forge(STRANGER, { kid: keyId(STRANGER) })],
    ["a token signed by a key we do not have, naming ours", () => forge(STRANGER, { kid: keyId(CURRENT) })],
    ["an unknown kid on a token signed with the current key", () => forge(CURRENT, { kid: "0123456789abcdef" })],
    ["a kid that is not 16 hex digits", () => forge(CURRENT, { kid: keyId(CURRENT).toUpperCase() })],
    ["a kid that is a number", () => forge(CURRENT, { kid: 1 })],
    ["a kid that is the secret itself", () => forge(CURRENT, { kid: CURRENT })],
    ["a token without kid signed with the previous key (only the current key verifies those)", () => forge(PREVIOUS, {})],
    ["a header that is not JSON", async () => `ept_bm90IGpzb24.${Buffer.from(JSON.stringify(claims())).toString("base64url")}.c2ln`],
  ];
  for (const [what, make] of refused)
    test(`refuses ${what}`, async () => {
      expect(await rotated.verify(await make())).toBeNull();
    });

  test("a token issued before key ids (no kid) still verifies with the current key", async () => {
    const legacy = await forge(CURRENT, {});
    expect(headerOf(legacy).kid).toBeUndefined();
    expect((await rotated.verify(legacy))?.id).toBe(id);
  });
});
