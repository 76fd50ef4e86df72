// The error page's header: who is signed in when the pipeline knows, a neutral link when it does not.
import { describe, expect, test } from "bun:test";
import type { Principal } from "../../src/auth/principal.ts";
import { ErrorPage } from "../../src/pages/error-page.tsx";

const joe: Principal = { id: "1", username: "joe", groups: ["users"], via: "session" };
const render = (caller?: Parameters<typeof ErrorPage>[0]["caller"]) =>
  ErrorPage({ status: 404, title: "Not Found", detail: "user 'x' does not exist", requestId: "r1", caller }) as string;

describe("the error page's header", () => {
  const cases = [
    { who: "an admin", caller: { principal: joe, csrfToken: "c", isAdmin: true }, name: true, admin: true, signOut: true, signIn: false, neutral: false },
    { who: "a signed-in user", caller: { principal: joe, csrfToken: "c", isAdmin: false }, name: true, admin: false, signOut: true, signIn: false, neutral: false },
    { who: "a token caller (no session)", caller: { principal: { ...joe, via: "token" as const }, csrfToken: null, isAdmin: false }, name: true, admin: false, signOut: false, signIn: false, neutral: false },
    { who: "nobody signed in", caller: { principal: null, csrfToken: null, isAdmin: false }, name: false, admin: false, signOut: false, signIn: true, neutral: false },
    { who: "a caller not yet known", caller: undefined, name: false, admin: false, signOut: false, signIn: false, neutral: true },
  ];
  for (const { who, caller, ...expected } of cases)
    test(`for ${who}`, () => {
      const html = render(caller);
      expect({
        name: html.includes('class="who"'),
        admin: html.includes('href="/admin"'),
        signOut: html.includes('action="/logout"'),
        signIn: html.includes('<a href="/login">Sign in</a>'),
        neutral: html.includes('<a href="/account">Your account</a>'),
      }).toEqual(expected);
    });
});
