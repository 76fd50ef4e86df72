// Two-step sign-in end to end in Debian's Chromium: turn it on from /account (the setup key read off the page, a
// code from oathtool), keep the recovery codes, sign out, and sign in again with the password and then a code.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Page } from "playwright-core";
import { ROOT } from "../support/cli.ts";
import { type BrowserSession, hasChromium, startBrowserSession } from "../support/browser.ts";

const SHOTS = join(ROOT, "test-output", "screenshots");
const hasOathtool = Bun.which("oathtool") !== null;
const oathtool = (secret: string, atMs: number) =>
  Bun.spawnSync(["oathtool", "--totp", "-b", secret, "-N", `@${Math.floor(atMs / 1000)}`]).stdout.toString().trim();

describe.skipIf(!hasChromium || !hasOathtool)("two-step sign-in in a real browser", () => {
  const work = mkdtempSync(join(tmpdir(), "endpoint-browser-mfa-"));
  let session: BrowserSession | undefined;
  const problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    session = await startBrowserSession(work);
  });
  afterAll(async () => {
    await session?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("enrol on /account, then sign in with the password and a code", async () => {
    const { server, browser, base } = session!;
    const page: Page = await (await browser.newContext()).newPage();
    // The wrong code below is answered 401 on purpose; any other error (a CSP violation, a script error) counts.
    page.on("console", (message) => void (message.type() === "error" && !/status of 401/.test(message.text()) && problems.push(message.text())));
    page.on("dialog", async (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      await dialog.dismiss();
    });
    const link = /(http:\/\/\S+\/setup\?token=\S+)/.exec(server.output())?.[1];
    expect(link).toBeDefined();
    await page.goto(link!);
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "alice's long password");
    await page.fill('input[name="repeat"]', "alice's long password");
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/`);

    // Wait out the end of a step, so the codes below stay in their steps while the test types them.
    if (Date.now() % 30_000 > 24_000) await Bun.sleep(30_000 - (Date.now() % 30_000) + 100);
    const t0 = Date.now();
    await page.goto(`${base}/account`);
    await page.click('form[action="/account/mfa/enrol"] button');
    const secret = (await page.textContent(".mfa-secret"))!.replaceAll(" ", "");
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await page.getAttribute(".mfa-enrol a", "href")).toStartWith("otpauth://totp/Endpoint:alice?secret=");
    // The QR code is drawn inline (the CSP refuses data: images), square, with dark modules.
    const qr = page.locator("svg.qr");
    expect(await qr.count()).toBe(1);
    expect((await qr.locator("path").getAttribute("d"))!.length).toBeGreaterThan(100);
    await shot(page, "mfa-enrol");
    await page.fill('form[action="/account/mfa/confirm"] input[name="code"]', oathtool(secret, t0 - 30_000));
    await page.click('form[action="/account/mfa/confirm"] button');
    await page.waitForSelector(".recovery-codes");
    expect(await page.locator(".recovery-codes code").count()).toBe(10);
    expect(await page.textContent("#mfa")).toContain("Recovery codes left: 10");
    await shot(page, "mfa-recovery-codes");

    // Sign out, then in: the password leads to the code page, the code to the page asked for.
    await page.click('header form button[type="submit"]');
    await page.waitForURL(/\/login$/);
    await page.goto(`${base}/account`);
    await page.waitForURL(/\/login\?next=%2Faccount$/);
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "alice's long password");
    await page.click('button[type="submit"]');
    await page.waitForURL(/\/login\/mfa$/);
    await shot(page, "mfa-code");
    await page.fill('input[name="code"]', "000000");
    await page.click('button[type="submit"]');
    expect(await page.textContent(".alert")).toContain("not right");
    await page.fill('input[name="code"]', oathtool(secret, t0));
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    expect(await page.textContent(".who")).toBe("alice");
    expect(problems).toEqual([]);
  });
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
