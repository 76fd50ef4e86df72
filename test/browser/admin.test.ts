// End to end in Debian's Chromium (playwright-core, no browser download): first-run setup, sign-in, the admin
// pages doing what the CLI does, a token made in the browser used and revoked, a non-admin refused, stored
// markup shown as text with no script running. Screenshots of each admin page go to test-output/screenshots.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type Page } from "playwright-core";
import { ROOT } from "../support/cli.ts";
import { type BrowserSession, CHROMIUM, hasChromium, startBrowserSession } from "../support/browser.ts";
import type { ServerProcess } from "../support/server-process.ts";

const SHOTS = join(ROOT, "test-output", "screenshots");
if (!hasChromium) console.log(`admin.test.ts: ${CHROMIUM} is missing (apt-get install chromium); the browser tests need it`);

describe.skipIf(!hasChromium)("the admin UI in a real browser", () => {
  const work = mkdtempSync(join(tmpdir(), "endpoint-browser-"));
  let server: ServerProcess;
  let browser: Browser;
  let base: string;
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];

  async function newPage(): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    return page;
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

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

  test("setup, sign-in, users, groups, a token used and revoked, a non-admin refused, markup as text", async () => {
    const link = /(http:\/\/\S+\/setup\?token=\S+)/.exec(server.output())?.[1];
    expect(link).toBeDefined();
    const page = await newPage();

    // First run: the one-time link creates the administrator and signs them in.
    await page.goto(link!);
    await shot(page, "setup");
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "alice's long password");
    await page.fill('input[name="repeat"]', "alice's long password");
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/`);
    expect(await page.textContent(".who")).toBe("alice");

    // Sign out and in again through the login page.
    await page.click('header form button[type="submit"]');
    await page.waitForURL(/\/login$/);
    await page.goto(`${base}/admin/users`);
    await page.waitForURL(/\/login\?next=%2Fadmin%2Fusers$/);
    await shot(page, "login");
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "alice's long password");
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/admin/users`);

    // Create a user and put them in the group for remote services (endpoint.yaml declares it, so it exists).
    await page.fill('form[method="post"][action="/admin/users"] input[name="username"]', "robot");
    await page.fill('form[method="post"][action="/admin/users"] input[name="password"]', "robot's long password");
    await page.click('form[method="post"][action="/admin/users"] button');
    expect(await page.textContent(".notice")).toBe("User 'robot' created.");
    await shot(page, "admin-users");
    await page.goto(`${base}/admin/groups`);
    expect(await page.locator("tr", { hasText: "Remote services that post events" }).locator(".tag").textContent()).toContain("declared");
    await page.fill('form[action="/admin/groups/services/members"] input[name="username"]', "robot");
    await page.click('form[action="/admin/groups/services/members"] button');
    expect(await page.textContent(".notice")).toBe("'robot' added to 'services'.");
    await shot(page, "admin-groups");

    // A token for them, named with markup; it is shown once and calls the token-only webhook.
    await page.goto(`${base}/admin/users/robot`);
    await page.fill('form[action="/admin/users/robot/tokens"] input[name="name"]', "<script>alert('xss')</script>");
    await page.click('form[action="/admin/users/robot/tokens"] button');
    const token = await page.inputValue("input.token");
    expect(token).toMatch(/^ept_/);
    expect(await page.isVisible("button[data-copy]")).toBe(true);
    expect(await page.content()).toContain("&lt;script&gt;alert('xss')&lt;/script&gt;");
    await shot(page, "admin-user");
    const call = () =>
      fetch(`${base}/hooks/events`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ kind: "deploy" }) });
    expect((await call()).status).toBe(201);

    // Revoke it from the tokens page; the call is refused.
    await page.goto(`${base}/admin/tokens`);
    await shot(page, "admin-tokens");
    await page.click("text=Revoke…");
    await shot(page, "confirm");
    await page.click('form[action="/admin/tokens/revoke"] button');
    expect(await page.textContent(".notice")).toBe("Token revoked.");
    expect((await call()).status).toBe(401);

    await page.goto(`${base}/admin/audit`);
    await shot(page, "admin-audit");
    expect(await page.textContent("table")).toContain("token.revoke");

    // A non-admin signs in and gets the 403 page on admin pages.
    const other = await newPage();
    await other.goto(`${base}/login`);
    await other.fill('input[name="username"]', "robot");
    await other.fill('input[name="password"]', "robot's long password");
    await other.click('button[type="submit"]');
    await other.waitForURL(`${base}/`);
    const refused = await other.goto(`${base}/admin/users`);
    expect(refused?.status()).toBe(403);
    expect(await other.textContent("h1")).toContain("Forbidden");
    await shot(other, "forbidden");

    expect(dialogs).toEqual([]);
    // No Content-Security-Policy violations (or other errors) on any page: nothing inline, nothing foreign.
    expect(consoleErrors.filter((text) => !text.includes("403"))).toEqual([]);
  });
});
