// auth.mail: its defaults, and the settings that would put a reset link or an SMTP password on the wire in clear.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { ROOT } from "../support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "endpoint-mail-config-"));
const base = readFileSync(join(ROOT, "endpoint.yaml"), "utf8");

async function load(mail: string) {
  const file = join(dir, "endpoint.yaml");
  writeFileSync(file, base.replace(/^auth:\n/m, `auth:\n  mail:\n${mail}`));
  return loadConfig(file, { routesDir: join(ROOT, "routes") });
}

describe("auth.mail", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases = [
    { mail: "    host: smtp.example.com\n    from: endpoint@example.com\n", expect: { host: "smtp.example.com", port: 587, from: "endpoint@example.com", tls: "starttls" } },
    { mail: "    host: smtp.example.com\n    from: endpoint@example.com\n    tls: implicit\n", expect: { host: "smtp.example.com", port: 465, from: "endpoint@example.com", tls: "implicit" } },
    { mail: '    host: 127.0.0.1\n    port: 2525\n    from: endpoint@example.com\n    tls: "off"\n', expect: { host: "127.0.0.1", port: 2525, from: "endpoint@example.com", tls: "off" } },
    { mail: '    host: smtp.example.com\n    from: endpoint@example.com\n    tls: "off"\n', error: "allowed only for a mail server on this machine" },
    { mail: '    host: localhost\n    from: endpoint@example.com\n    tls: "off"\n    username: endpoint\n', error: "needs tls: starttls or implicit" },
    { mail: "    host: smtp.example.com\n    from: not-an-address\n", error: "from" },
    { mail: "    host: smtp.example.com\n    from: endpoint@example.com\n    colour: blue\n", error: "colour" },
  ];
  for (const c of cases)
    test(`${JSON.stringify(c.mail.trim())} → ${c.error ? `refused (${c.error})` : "accepted"}`, async () => {
      const result = await load(c.mail);
      if (c.expect) {
        expect(result.ok ? result.config.auth.mail : result.findings).toEqual(c.expect as never);
      } else {
        expect(result.ok).toBe(false);
        if (!result.ok) expect(JSON.stringify(result.findings)).toContain(c.error!);
      }
    });

  test("without auth.mail there is no mail setting", async () => {
    const result = await loadConfig(join(ROOT, "endpoint.yaml"));
    expect(result.ok && result.config.auth.mail).toBeUndefined();
  });
});
