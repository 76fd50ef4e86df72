// The deployment files and the production audit: `check --deploy`, the systemd unit and the nginx site.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli } from "../support/cli.ts";

const work = mkdtempSync(join(tmpdir(), "endpoint-deploy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const STRONG = "Zr8qLk2Vn4Xw7Ty1Pb5Hc9Md3Sg6Jf0Ae-deploy";

function config(server: string): string {
  const file = join(work, `endpoint-${crypto.randomUUID().slice(0, 8)}.yaml`);
  writeFileSync(file, `server:\n${server}\nroutes: []\n`);
  return file;
}

describe("check --deploy", () => {
  test("a sound production setup passes", async () => {
    const file = config("  public_url: https://endpoint.example\n  trusted_proxies: 1");
    const result = await runCli(["check", "--deploy", "--config", file, "--database-url", "postgres://endpoint:x@127.0.0.1/endpoint"], {
      env: { ENDPOINT_SECRET: STRONG, NODE_ENV: "production" },
    });
    expect(result.stdout.trim()).toBe("no problems found: this looks like a sound production setup");
    expect(result.exitCode).toBe(0);
  });

  test("a development setup gets every finding with its fix, and exit 1", async () => {
    const file = config("  host: 0.0.0.0");
    const result = await runCli(["check", "--deploy", "--config", file, "--json"], { env: { ENDPOINT_SECRET: "changeme", NODE_ENV: undefined } });
    expect(result.exitCode).toBe(1);
    const { ok, findings } = JSON.parse(result.stdout);
    expect(ok).toBe(false);
    expect(findings.map((f: { code: string }) => f.code)).toEqual([
      "secret-weak",
      "not-production",
      "public-url-not-https",
      "public-url-default",
      "cookie-not-secure",
      "trusted-proxies-unset",
      "database-embedded",
      "listening-everywhere",
    ]);
    for (const finding of findings) expect(finding.fix.length).toBeGreaterThan(10);
  });

  test("no secret at all, or one written into the config, is reported", async () => {
    const missing = await runCli(["check", "--deploy", "--config", config("  public_url: https://e.example\n  trusted_proxies: 1"), "--database-url", "postgres://x@h/d"], {
      env: { ENDPOINT_SECRET: undefined, NODE_ENV: "production" },
    });
    expect(missing.stdout).toContain("[secret-missing]");
    const file = join(work, "with-secret.yaml");
    writeFileSync(file, `server:\n  public_url: https://e.example\n  trusted_proxies: 1\nauth:\n  secret: ${STRONG}\nroutes: []\n`);
    const inConfig = await runCli(["check", "--deploy", "--config", file, "--database-url", "postgres://x@h/d"], { env: { ENDPOINT_SECRET: undefined, NODE_ENV: "production" } });
    expect(inConfig.stdout).toContain("[secret-in-config]");
    expect(inConfig.stdout).not.toContain(STRONG);
  });

  test("check without --deploy is a usage error", async () => {
    const result = await runCli(["check"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim()).toBe("error: say what to check: --deploy");
  });
});

describe("deployment files", () => {
  const systemdAnalyze = Bun.which("systemd-analyze");
  if (!systemdAnalyze) console.log("deploy.test.ts: systemd-analyze is not installed; the unit file is not verified");
  test.skipIf(!systemdAnalyze)("the systemd unit passes systemd-analyze verify", () => {
    const result = Bun.spawnSync(["systemd-analyze", "verify", join(ROOT, "deploy", "endpoint.service")], { stderr: "pipe" });
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
  });

  test("the unit runs bun run start as an unprivileged user, hardened, with the data folder writable", () => {
    const unit = readFileSync(join(ROOT, "deploy", "endpoint.service"), "utf8");
    for (const line of ["User=endpoint", "Restart=on-failure", "EnvironmentFile=/etc/endpoint/endpoint.env", "NoNewPrivileges=true", "ProtectSystem=strict", "ReadWritePaths=/srv/endpoint/data", "PrivateTmp=true", "ExecStart=/usr/bin/env bun run start"])
      expect(unit).toContain(line);
  });

  const nginx = Bun.which("nginx") ?? (Bun.spawnSync(["test", "-x", "/usr/sbin/nginx"]).exitCode === 0 ? "/usr/sbin/nginx" : null);
  if (!nginx) console.log("deploy.test.ts: nginx is not installed; the site config is not checked with nginx -t");
  test.skipIf(!nginx)("the nginx site passes nginx -t (with a throwaway certificate)", () => {
    const cert = join(work, "cert.pem");
    const key = join(work, "key.pem");
    const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=endpoint.example"], { stderr: "pipe" });
    expect(made.exitCode).toBe(0);
    const site = readFileSync(join(ROOT, "deploy", "nginx-site.conf"), "utf8")
      .replace("/etc/letsencrypt/live/endpoint.example/fullchain.pem", cert)
      .replace("/etc/letsencrypt/live/endpoint.example/privkey.pem", key);
    const main = join(work, "nginx.conf");
    writeFileSync(main, `pid ${join(work, "nginx.pid")};\nerror_log ${join(work, "error.log")};\nevents {}\nhttp {\naccess_log off;\n${site}\n}\n`);
    const result = Bun.spawnSync([nginx!, "-t", "-c", main, "-p", work], { stderr: "pipe" });
    expect(result.stderr.toString()).toContain("test is successful");
    expect(result.exitCode).toBe(0);
  });
});
