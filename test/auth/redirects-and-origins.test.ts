// No open redirect after login, and the origin rules CSRF protection stands on.
import { describe, expect, test } from "bun:test";
import { foreignOrigin, secretsEqual } from "../../src/auth/csrf.ts";
import { safeNextPath } from "../../src/auth/redirects.ts";
import { clientAddressResolver } from "../../src/server/client-address.ts";

const PUBLIC = "https://endpoint.example";

describe("the page after login", () => {
  const offSite = [
    "https://evil.com", "//evil.com", "///evil.com", "/\\evil.com", "\\\\evil.com", "/\t/evil.com", "https:evil.com",
    "%2F%2Fevil.com", "javascript:alert(1)", "http://endpoint.example.evil.com/", "evil.com", "", "/\n/evil.com", " //evil.com",
  ];
  for (const next of offSite)
    test(`${JSON.stringify(next)} goes to the default page`, () => {
      expect(safeNextPath(next, PUBLIC)).toBe("/");
    });
  test("a same-site path keeps its query", () => {
    expect(safeNextPath("/admin/users?x=1", PUBLIC)).toBe("/admin/users?x=1");
    expect(safeNextPath("/events", PUBLIC)).toBe("/events");
  });
});

describe("same-origin checks", () => {
  const request = (headers: Record<string, string>) => new Request(`${PUBLIC}/logout`, { method: "POST", headers });
  test("our Origin passes; anything else is named", () => {
    expect(foreignOrigin(request({ origin: PUBLIC }), PUBLIC)).toBeNull();
    for (const origin of ["https://evil.example", "null", "http://endpoint.example", "https://sub.endpoint.example"])
      expect(foreignOrigin(request({ origin }), PUBLIC)).toContain("is not");
  });
  test("without Origin a same-origin Referer passes, and nothing at all does not", () => {
    expect(foreignOrigin(request({ referer: `${PUBLIC}/account` }), PUBLIC)).toBeNull();
    expect(foreignOrigin(request({ referer: "https://evil.example/x" }), PUBLIC)).toBe("Referer is from another origin");
    expect(foreignOrigin(request({}), PUBLIC)).toBe("neither Origin nor Referer was sent");
  });
  test("secrets compare equal only when equal, whatever their lengths", () => {
    expect(secretsEqual("abc", "abc")).toBe(true);
    expect(secretsEqual("abc", "abd")).toBe(false);
    expect(secretsEqual("abc", "abcd")).toBe(false);
  });
});

describe("the client address", () => {
  const peer = () => "10.0.0.5";
  const request = (xff?: string) => new Request("http://x/", { headers: xff ? { "x-forwarded-for": xff } : {} });
  test("with no trusted proxy, X-Forwarded-For is ignored", () => {
    expect(clientAddressResolver(0, peer)(request("1.2.3.4"))).toBe("10.0.0.5");
  });
  test("behind one proxy, the entry it appended is believed, not what the client sent before it", () => {
    expect(clientAddressResolver(1, peer)(request("6.6.6.6, 203.0.113.7"))).toBe("203.0.113.7");
    expect(clientAddressResolver(2, peer)(request("6.6.6.6, 203.0.113.7, 10.0.0.2"))).toBe("203.0.113.7");
    expect(clientAddressResolver(1, peer)(request("not-an-ip"))).toBe("10.0.0.5");
  });
});
