// The browser tests' harness: Debian's Chromium driven by playwright-core (no browser download), in front of a real
// dev-server on a fresh embedded database.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { ROOT } from "./cli.ts";
import { type ServerProcess, freePort, startServerProcess } from "./server-process.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

export interface BrowserSession {
  server: ServerProcess;
  browser: Browser;
  /** The address the server listens on, which is also its public_url. */
  base: string;
  stop(): Promise<void>;
}

/** dev-server with the shipped endpoint.yaml on a new database in `work`, and headless Chromium. */
export async function startBrowserSession(work: string): Promise<BrowserSession> {
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(["dev-server", "--config", join(ROOT, "endpoint.yaml"), "--database-url", `pglite:${join(work, "db")}`, "--port", String(port)], {
    cwd: work,
    env: { PUBLIC_URL: base, PORT: String(port) },
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  return {
    server,
    browser,
    base,
    async stop() {
      await browser.close();
      server.child.kill("SIGTERM");
      await server.child.exited;
    },
  };
}
