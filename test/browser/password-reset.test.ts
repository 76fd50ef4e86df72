// One-time password-reset links end to end in Debian's Chromium: a link made by `bun run cli reset-link` beside the
// running dev-server (which shares its embedded database with the CLI) sets a new password once through the form;
// the new password signs in, the old one no longer does, and the same link opened again says it was already used.
// The admin user page's "Make a reset link" button shows its link once, and that link opens the form.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Page } from "playwright-core";
import { ROOT, runCli } from "../support/cli.ts";
import { type BrowserSession, hasChromium, startBrowserSession } from "../support/browser.ts";

describe.skipIf(!hasChromium)("password-reset links in a real browser", () => {
  const work = mkdtempSync(join(tmpdir(), "endpoint-browser-reset-"));
  let session: BrowserSession | undefined;
  const problems: string[] = [];

  // The CLI against the server's own database (through the socket dev-server serves it on) and config, with the
  // server's public_url, so the link it prints points at this server.
  const cli = (args: string[], stdin?: string) =>
    runCli([...args, "--config", join(ROOT, "endpoint.yaml"), "--database-url", `pglite:${join(work, "db")}`], {
      cwd: work,
      stdin,
      env: { PUBLIC_URL: session!.base, ENDPOINT_SECRET: undefined },
    });

  async function newPage(): Promise<Page> {
    const page = await (await session!.browser.newContext()).newPage();
    // The wrong password below is answered 401 and a used link 410 or similar on purpose; other errors count.
    page.on("console", (message) => void (message.type() === "error" && !/status of 4\d\d/.test(message.text()) && problems.push(message.text())));
    page.on("dialog", async (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      await dialog.dismiss();
    });
    return page;
  }

  async function signIn(page: Page, username: string, password: string) {
    await page.goto(`${session!.base}/login`);
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');
  }

  beforeAll(async () => {
    session = await startBrowserSession(work);
  });
  afterAll(async () => {
    await session?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("a CLI link sets a new password once; the admin page's button shows a link once", async () => {
    const { server, base } = session!;

    // The first administrator, through the one-time setup link.
    const setup = /(http:\/\/\S+\/setup\?token=\S+)/.exec(server.output())?.[1];
    expect(setup).toBeDefined();
    const admin = await newPage();
    await admin.goto(setup!);
    await admin.fill('input[name="username"]', "alice");
    await admin.fill('input[name="password"]', "alice's long password");
    await admin.fill('input[name="repeat"]', "alice's long password");
    await admin.click('button[type="submit"]');
    await admin.waitForURL(`${base}/`);

    // A user made with the CLI beside the server, and a reset link for them.
    const added = await cli(["add-user", "--username", "bob", "--password-stdin"], "bob's old long password\n");
    expect({ exitCode: added.exitCode, stderr: added.stderr }).toEqual({ exitCode: 0, stderr: expect.any(String) });
    const made = await cli(["reset-link", "--username", "bob"]);
    expect({ exitCode: made.exitCode, stderr: made.stderr }).toEqual({ exitCode: 0, stderr: expect.stringContaining("shown only this once") });
    const link = made.stdout.trim();
    expect(link).toMatch(new RegExp(`^${base.replaceAll(".", "\\.")}/login/reset\\?token=\\S+$`));

    // Bob opens it and sets a new password through the form.
    const bob = await newPage();
    await bob.goto(link);
    expect(await bob.textContent("h1")).toBe("Set a new password");
    expect(await bob.textContent("p.muted strong")).toBe("bob");
    await bob.fill('input[name="password"]', "bob's new long password");
    await bob.fill('input[name="repeat"]', "bob's new long password");
    await bob.click('button[type="submit"]');
    await bob.waitForSelector("h1:has-text('Password set')");
    expect(await bob.textContent("body")).toContain("Your new password is set.");

    // The new password signs in; the old one is refused.
    await signIn(bob, "bob", "bob's new long password");
    await bob.waitForURL(`${base}/`);
    expect(await bob.textContent(".who")).toBe("bob");
    const stranger = await newPage();
    await signIn(stranger, "bob", "bob's old long password");
    await stranger.waitForSelector(".alert");
    expect(new URL(stranger.url()).pathname).toBe("/login");
    expect(await stranger.locator(".who").count()).toBe(0);

    // The same link again: the "already used" page, with no form.
    const again = await newPage();
    await again.goto(link);
    expect(await again.textContent("h1")).toBe("This link does not work");
    expect(await again.textContent("body")).toContain("has already been used");
    expect(await again.locator('input[name="password"]').count()).toBe(0);

    // The admin user page's button: a link shown once, which opens the form.
    await admin.goto(`${base}/admin/users/bob`);
    expect(await admin.locator("input.token").count()).toBe(0);
    await admin.click("text=Make a reset link");
    await admin.waitForSelector(".notice");
    expect(await admin.textContent(".notice")).toBe("Reset link made.");
    const shown = await admin.inputValue('input[aria-label="Password-reset link"]');
    expect(shown).toMatch(new RegExp(`^${base.replaceAll(".", "\\.")}/login/reset\\?token=\\S+$`));
    expect(shown).not.toBe(link);
    // The page showing the link still posts its forms with a real Origin (no-referrer would send "null": 403).
    await admin.click("text=Make a reset link");
    await admin.waitForSelector(".notice");
    expect(await admin.textContent(".notice")).toBe("Reset link made.");
    await admin.goto(`${base}/admin/users/bob`);
    expect(await admin.locator('input[aria-label="Password-reset link"]').count()).toBe(0);
    expect(await admin.content()).not.toContain(new URL(shown).searchParams.get("token")!);
    const fresh = await newPage();
    await fresh.goto(shown);
    expect(await fresh.textContent("h1")).toBe("Set a new password");

    expect(problems).toEqual([]);
  }, 120_000);
});
