// Every page fits a phone (390 px) and a desktop (1280 px) without scrolling sideways, in Debian's Chromium
// (playwright-core, no browser download), with data made to be wide: 64-character names without a break, a
// 500-character description, a long user agent, long audit details. Tables may scroll inside their own box; the
// page may not. Also: the header's Admin link shows for the admin group's members only. Screenshots of each page
// at each width go to test-output/screenshots/narrow-screens.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { ROOT } from "../support/cli.ts";
import { type BrowserSession, CHROMIUM, hasChromium, startBrowserSession } from "../support/browser.ts";
import type { ServerProcess } from "../support/server-process.ts";

const SHOTS = join(ROOT, "test-output", "screenshots", "narrow-screens");
if (!hasChromium) console.log(`narrow-screens.test.ts: ${CHROMIUM} is missing (apt-get install chromium); the browser tests need it`);

const WIDTHS = [390, 1280];
// Nothing in these offers the browser a place to break a line: if a page lets them push it wider, the test sees it.
const ADMIN = `admin_${"w".repeat(58)}`;
const MEMBER = `member_${"m".repeat(57)}`;
const GROUP = `group_${"g".repeat(58)}`;
const PASSWORD = "a long enough password";
const LONG_AGENT = `Mozilla/5.0_${"W".repeat(230)}`;

describe.skipIf(!hasChromium)("pages on narrow and wide screens", () => {
  const work = mkdtempSync(join(tmpdir(), "endpoint-browser-"));
  let server: ServerProcess;
  let browser: Browser;
  let base: string;

  let session: BrowserSession | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    session = await startBrowserSession(work);
    ({ server, browser, base } = session);
  });
  afterAll(async () => {
    await session?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** A browser context signed in as `username` through the login page. */
  async function signIn(context: BrowserContext, username: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/`);
    return page;
  }

  /** Call the REST API as the page's session (cookie plus the session's CSRF token, as a script on the page would). */
  async function api(page: Page, method: string, path: string, body?: unknown): Promise<any> {
    const csrfToken = await page.inputValue('header input[name="_csrf"]');
    const response = await page.request.fetch(`${base}${path}`, {
      method,
      headers: { "x-csrf-token": csrfToken, origin: base, "content-type": "application/json", accept: "application/json" },
      data: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok()) throw new Error(`${method} ${path}: ${response.status()} ${await response.text()}`);
    return response.status() === 204 ? null : response.json();
  }

  /** Each path at each width: where the page is wider than the window, and how wide the widest table would be. */
  async function measure(page: Page, name: string, paths: string[]) {
    const overflowing: Array<{ path: string; width: number; scrollWidth: number }> = [];
    const widestTable: Record<string, number> = {};
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const path of paths) {
        await page.goto(`${base}${path}`);
        const { scrollWidth, innerWidth, tables } = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          tables: Array.from(document.querySelectorAll(".table-scroll"), (box) => box.scrollWidth),
        }));
        if (scrollWidth > innerWidth) overflowing.push({ path, width, scrollWidth });
        if (width === 390) widestTable[path] = Math.max(0, ...tables);
        await page.screenshot({ path: join(SHOTS, `${name}-${path.replace(/[^a-z0-9]+/gi, "_").slice(0, 40)}-${width}.png`), fullPage: true });
      }
    }
    return { overflowing, widestTable };
  }

  test("no page scrolls sideways at 390 px or 1280 px, with long names, a long user agent and long audit entries", async () => {
    // First run: the setup link makes the administrator, with a 64-character name, in a browser with a long user agent.
    const adminContext = await browser.newContext({ userAgent: LONG_AGENT });
    const setup = await adminContext.newPage();
    await setup.goto(/(http:\/\/\S+\/setup\?token=\S+)/.exec(server.output())![1]!);
    await setup.fill('input[name="username"]', ADMIN);
    await setup.fill('input[name="password"]', PASSWORD);
    await setup.fill('input[name="repeat"]', PASSWORD);
    await setup.click('button[type="submit"]');
    await setup.waitForURL(`${base}/`);

    // Wide data, made through the REST API as that session: it lands in the tables and in the audit log.
    await api(setup, "POST", "/api/users", { username: MEMBER, password: PASSWORD });
    await api(setup, "POST", "/api/groups", { name: GROUP, description: "D".repeat(500) });
    await api(setup, "PUT", `/api/groups/${GROUP}/members/${MEMBER}`);
    await api(setup, "PUT", `/api/groups/${GROUP}/members/${ADMIN}`);
    await api(setup, "PUT", `/api/groups/users/members/${ADMIN}`);
    await api(setup, "PUT", `/api/groups/services/members/${MEMBER}`);
    for (const name of ["T".repeat(64), `ci_${"t".repeat(61)}`])
      await api(setup, "POST", "/api/tokens", { name, username: MEMBER, routes: ["whoami", "events", "home", "status"] });
    // An event with a long payload, for the example app's events page.
    const { token } = await api(setup, "POST", "/api/tokens", { name: "hook", username: MEMBER, routes: ["webhook"] });
    const posted = await fetch(`${base}/hooks/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ kind: "K".repeat(64), payload: { ["k".repeat(64)]: "v".repeat(300) } }),
    });
    expect(posted.status).toBe(201);

    // A second session of the admin's, so /account lists more than one (each with the long user agent).
    const admin = await signIn(await browser.newContext({ userAgent: LONG_AGENT }), ADMIN);
    const adminPaths = [
      "/account",
      "/admin/users",
      "/admin/groups",
      `/admin/users/${MEMBER}`,
      `/admin/users/${ADMIN}`,
      "/admin/tokens",
      "/admin/lockouts",
      "/admin/audit",
      `/admin/users/${"n".repeat(64)}`, // 404 through the pipeline: the signed-in header, a long name in the detail
      `/no/such/${"p".repeat(200)}`, // 404 before authentication
      "/",
      "/events",
    ];
    const signedIn = await measure(admin, "admin", adminPaths);

    const anonymousContext = await browser.newContext({ userAgent: LONG_AGENT });
    const anonymous = await measure(await anonymousContext.newPage(), "anonymous", ["/login", "/", `/no/such/${"p".repeat(200)}`]);

    expect([...signedIn.overflowing, ...anonymous.overflowing]).toEqual([]);
    // The data is wide enough that these tables could not fit 390 px: they do scroll, inside their own boxes.
    for (const path of ["/admin/groups", "/admin/tokens", "/admin/audit", `/admin/users/${MEMBER}`, "/events"])
      expect({ path, wide: signedIn.widestTable[path]! > 390 }).toEqual({ path, wide: true });
    // The user agent and the audit details wrap inside their cells instead of making their tables as wide as they are.
    await admin.setViewportSize({ width: 390, height: 900 });
    await admin.goto(`${base}/account`);
    expect(await admin.locator("td.long", { hasText: "Mozilla/5.0_" }).first().evaluate((cell) => cell.getBoundingClientRect().width)).toBeLessThan(400);
    await admin.goto(`${base}/admin/audit`);
    expect(await admin.locator("td.long", { hasText: "TTTT" }).first().evaluate((cell) => cell.getBoundingClientRect().width)).toBeLessThan(400);
    await admin.context().close();
    await adminContext.close();
    await anonymousContext.close();
  });

  test("the header links to the admin pages for an admin and not for anyone else", async () => {
    const adminContext = await browser.newContext();
    const admin = await signIn(adminContext, ADMIN);
    // Every page the pipeline answers knows the caller, error pages included (a user that does not exist is a 404).
    for (const path of ["/", "/account", "/admin/users", "/events", `/admin/users/${"n".repeat(10)}`]) {
      await admin.goto(`${base}${path}`);
      expect({ path, admin: await admin.locator('header a[href="/admin"]').count() }).toEqual({ path, admin: 1 });
    }
    // A path nothing serves still knows who is calling: the admin's name and the Admin link, no "Sign in".
    await admin.goto(`${base}/no/such/page`);
    expect(await admin.locator('header a[href="/admin"]').count()).toBe(1);
    expect(await admin.textContent("header .who")).toBe(ADMIN);
    await admin.goto(`${base}/account`);
    await admin.click('header a[href="/admin"]');
    await admin.waitForURL(`${base}/admin/users`);
    expect(await admin.textContent("h1")).toBe("Users");

    const memberContext = await browser.newContext();
    const member = await signIn(memberContext, MEMBER);
    for (const path of ["/", "/account", "/admin/users"]) {
      await member.goto(`${base}${path}`);
      expect({ path, admin: await member.locator('header a[href="/admin"]').count(), who: await member.textContent("header .who") }).toEqual({ path, admin: 0, who: MEMBER });
    }
    await adminContext.close();
    await memberContext.close();
  });
});
