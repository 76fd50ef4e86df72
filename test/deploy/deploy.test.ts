// The deployment files and the production audit: `check --deploy`, the systemd units, the two nginx sites (plain
// HTTP before certbot, then TLS) and the README steps that install them.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runCli } from "../support/cli.ts";
import { freePort } from "../support/server-process.ts";

const work = mkdtempSync(join(tmpdir(), "endpoint-deploy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const STRONG = "Zr8qLk2Vn4Xw7Ty1Pb5Hc9Md3Sg6Jf0Ae-deploy";
const DEPLOY = join(ROOT, "deploy");
const shipped = (file: string) => readFileSync(join(DEPLOY, file), "utf8");

function config(server: string): string {
  const file = join(work, `endpoint-${crypto.randomUUID().slice(0, 8)}.yaml`);
  writeFileSync(file, `server:\n${server}\nroutes: []\n`);
  return file;
}

describe("check --deploy", () => {
  test("a sound production setup passes", async () => {
    const file = config("  public_url: https://endpoint.example\n  allowed_hosts: [endpoint.example]\n  trusted_proxies: 1");
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

  test("behind a proxy, an empty allowed_hosts is reported with the names to list", async () => {
    const file = config("  public_url: https://endpoint.example\n  trusted_proxies: 1");
    const result = await runCli(["check", "--deploy", "--config", file, "--database-url", "postgres://endpoint:x@127.0.0.1/endpoint", "--json"], {
      env: { ENDPOINT_SECRET: STRONG, NODE_ENV: "production" },
    });
    expect(result.exitCode).toBe(1);
    const { findings } = JSON.parse(result.stdout);
    expect(findings).toEqual([
      {
        code: "allowed-hosts-empty",
        message: expect.stringContaining("requests for any name but endpoint.example get 400"),
        fix: "list the names nginx's server_name forwards, e.g. server.allowed_hosts: [endpoint.example]",
      },
    ]);
  });

  test("with rate limits and trusted_proxies 0, the finding says the limits would count every client as nginx", async () => {
    const check = async (extra: string) => {
      const result = await runCli(["check", "--deploy", "--config", config(`  public_url: https://endpoint.example\n  allowed_hosts: [endpoint.example]${extra}`), "--database-url", "postgres://endpoint:x@127.0.0.1/endpoint", "--json"], {
        env: { ENDPOINT_SECRET: STRONG, NODE_ENV: "production" },
      });
      return (JSON.parse(result.stdout).findings as Array<{ code: string; message: string }>).find((f) => f.code === "trusted-proxies-unset")!.message;
    };
    expect(await check("\n  rate_limit: { limit: 100, window: 1m, per: address }")).toEndWith("; rate limits would count every anonymous client as one address");
    expect(await check("")).not.toContain("rate limits");
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

  test("a weak previous secret is reported by check --deploy, and serve refuses to start on it, naming the entry only", async () => {
    const file = join(work, "with-weak-previous.yaml");
    writeFileSync(
      file,
      "server:\n  public_url: https://e.example\n  allowed_hosts: [e.example]\n  trusted_proxies: 1\nauth:\n  previous_secrets: [changeme, \"${ENDPOINT_PREVIOUS_SECRET:-}\"]\nroutes: []\n",
    );
    const env = { ENDPOINT_SECRET: STRONG, NODE_ENV: "production", ENDPOINT_PREVIOUS_SECRET: undefined };
    const check = await runCli(["check", "--deploy", "--config", file, "--database-url", "postgres://x@h/d", "--json"], { env });
    expect(check.exitCode).toBe(1);
    expect(JSON.parse(check.stdout).findings).toEqual([
      {
        code: "previous-secret-weak",
        message: "auth.previous_secrets[0] is too weak: it is shorter than 32 bytes",
        fix: "remove entry 0 from auth.previous_secrets (the tokens it signed stop working; issue new ones)",
      },
    ]);
    const database = `pglite:${join(work, "weak-previous-db")}`;
    expect((await runCli(["init-db", "--config", file, "--database-url", database], { env })).exitCode).toBe(0);
    const serve = await runCli(["serve", "--config", file, "--database-url", database, "--port", "0"], { env });
    expect(serve.exitCode).toBe(1);
    expect(serve.stderr).toStartWith("error: auth.previous_secrets[0] is too weak: it is shorter than 32 bytes.");
    expect(serve.stderr.trim().split("\n")).toHaveLength(1);
    expect(serve.stderr).not.toContain("changeme");
  }, 60_000);

  test("check without --deploy is a usage error", async () => {
    const result = await runCli(["check"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim()).toBe("error: say what to check: --deploy");
  });
});

/** A unit file's settings as "Section.Key=Value", in order, without comments and blank lines. */
function unitSettings(text: string): string[] {
  let section = "";
  const settings: string[] = [];
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[")) section = line.slice(1, -1);
    else settings.push(`${section}.${line}`);
  }
  return settings;
}

/** The values of one [Service] key, with %i (the instance name) filled in. */
function serviceValues(settings: string[], key: string, instance: string): string[] {
  const prefix = `Service.${key}=`;
  return settings.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length).replaceAll("%i", instance));
}

describe("systemd units", () => {
  const systemdAnalyze = Bun.which("systemd-analyze");
  if (!systemdAnalyze) console.log("deploy.test.ts: systemd-analyze is not installed; the unit files are not verified");
  test.skipIf(!systemdAnalyze)("endpoint.service and endpoint@8001.service pass systemd-analyze verify", () => {
    // The instance is loaded the way systemd loads it: endpoint@8001.service from the template beside it.
    const units = join(work, "units");
    mkdirSync(units, { recursive: true });
    copyFileSync(join(DEPLOY, "endpoint@.service"), join(units, "endpoint@.service"));
    for (const unit of [join(DEPLOY, "endpoint.service"), join(units, "endpoint@8001.service")]) {
      const result = Bun.spawnSync(["systemd-analyze", "verify", unit], { stderr: "pipe" });
      expect(result.stderr.toString()).toBe("");
      expect(result.exitCode).toBe(0);
    }
  });

  test("the unit runs bun run start as an unprivileged user, hardened, with the data folder writable", () => {
    const unit = shipped("endpoint.service");
    for (const line of ["User=endpoint", "Restart=on-failure", "EnvironmentFile=/etc/endpoint/endpoint.env", "NoNewPrivileges=true", "ProtectSystem=strict", "ReadWritePaths=/srv/endpoint/data", "PrivateTmp=true", "ExecStart=/usr/bin/env bun run start"])
      expect(unit).toContain(line);
    expect(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start).toBe("bun cli/main.ts serve");
  });

  test("endpoint@.service is endpoint.service with the port taken from the instance name", () => {
    const single = unitSettings(shipped("endpoint.service"));
    const template = unitSettings(shipped("endpoint@.service"));
    const expected = single.map((setting) => {
      if (setting === "Unit.Description=Endpoint web server") return "Unit.Description=Endpoint web server on port %i";
      if (setting === "Service.ExecStart=/usr/bin/env bun run start") return "Service.ExecStart=/usr/bin/env bun run start --port %i";
      return setting;
    });
    // Same user, folder, env file, restart policy and hardening: only the port differs.
    expect(template.filter((s) => s !== "Service.Environment=PORT=%i")).toEqual(expected);
    expect(template).toContain("Service.Environment=PORT=%i");
  });

  test("endpoint@PORT.service's command serves on PORT, re-reads endpoint.yaml on SIGHUP and exits 0 on SIGTERM", async () => {
    const template = unitSettings(shipped("endpoint@.service"));
    const port = String(freePort());
    const database = `pglite:${join(work, "instance-db")}`;
    expect((await runCli(["init-db", "--database-url", database])).exitCode).toBe(0);
    // The unit's own environment (bun's place on PATH is this machine's business), plus what the env file holds.
    const environment = Object.fromEntries(serviceValues(template, "Environment", port).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
    delete environment.PATH;
    const [execStart] = serviceValues(template, "ExecStart", port);
    const child = Bun.spawn(execStart!.split(" "), {
      cwd: ROOT,
      env: { ...process.env, TEST_DATABASE_URL: "", ...environment, DATABASE_URL: database, ENDPOINT_SECRET: STRONG },
      stdout: "pipe",
      stderr: "pipe",
    });
    let output = "";
    for (const stream of [child.stdout, child.stderr])
      void (async () => {
        const reader = stream.getReader();
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) output += new TextDecoder().decode(chunk.value);
      })();
    try {
      await waitFor(() => output.includes(`listening on http://127.0.0.1:${port} (production`), () => output);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      expect((await ready.json()).status).toBe("ready");
      child.kill("SIGHUP"); // ExecReload
      await waitFor(() => output.includes('"event":"config_reloaded"'), () => output);
      child.kill("SIGTERM"); // KillSignal
      expect(await child.exited).toBe(0);
      expect(output).toContain('"event":"server_stopped"');
    } finally {
      child.kill("SIGKILL");
    }
  });
});

const nginx = Bun.which("nginx") ?? (Bun.spawnSync(["test", "-x", "/usr/sbin/nginx"]).exitCode === 0 ? "/usr/sbin/nginx" : null);
if (!nginx) console.log("deploy.test.ts: nginx is not installed; the nginx sites are not checked");

/** Replace text that must be there: a site file that changed shape fails here instead of being tested half-rewritten. */
function replaceEvery(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the site no longer contains '${from}'`);
  return text.replaceAll(from, to);
}

/** Files certbot would make, made by openssl instead (once). */
function throwawayCertificate(): { cert: string; key: string } {
  const cert = join(work, "fullchain.pem");
  const key = join(work, "privkey.pem");
  if (existsSync(cert)) return { cert, key };
  const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=endpoint.example"], { stderr: "pipe" });
  if (made.exitCode !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
  return { cert, key };
}

interface SitePorts {
  http: number;
  https: number;
  /** Where "Endpoint" listens. */
  app: number;
}

/**
 * The shipped site in a minimal nginx.conf whose pid, logs, temp files and webroot live in a folder of their own,
 * so nginx runs unprivileged and touches nothing under /etc, /var or /run. Ports move off 80 and 443; `live` also
 * binds 127.0.0.1 only and keeps nginx in the foreground, to be driven with requests.
 */
function nginxConf(site: string, name: string, ports: SitePorts, live = false): { conf: string; dir: string; webroot: string } {
  const dir = join(work, name);
  const webroot = join(dir, "letsencrypt");
  mkdirSync(webroot, { recursive: true });
  let text = replaceEvery(site, "root /var/www/letsencrypt;", `root ${webroot};`);
  text = replaceEvery(text, "127.0.0.1:8000", `127.0.0.1:${ports.app}`);
  for (const [shippedPort, port] of [["80", ports.http], ["443", ports.https]] as const) {
    if (!text.includes(`listen ${shippedPort}`)) continue;
    text = replaceEvery(text, `listen ${shippedPort}`, `listen ${live ? "127.0.0.1:" : ""}${port}`);
    text = replaceEvery(text, `listen [::]:${shippedPort}`, live ? "# listen [::]:" : `listen [::]:${port}`);
  }
  if (text.includes("ssl_certificate")) {
    const { cert, key } = throwawayCertificate();
    text = replaceEvery(text, "/etc/letsencrypt/live/endpoint.example/fullchain.pem", cert);
    text = replaceEvery(text, "/etc/letsencrypt/live/endpoint.example/privkey.pem", key);
  }
  const build = Bun.spawnSync([nginx!, "-V"], { stderr: "pipe" }).stderr.toString();
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .filter((module) => module === "client_body" || !build.includes(`--without-http_${module}_module`))
    .map((module) => `${module}_temp_path ${join(dir, module)};`);
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    [
      `pid ${join(dir, "nginx.pid")};`,
      `error_log ${join(dir, "error.log")};`,
      ...(live ? ["daemon off;", "master_process off;"] : []),
      "events {}",
      "http {",
      "access_log off;",
      ...temp,
      text,
      "}",
      "",
    ].join("\n"),
  );
  return { conf, dir, webroot };
}

function nginxTest(conf: string, dir: string) {
  const result = Bun.spawnSync([nginx!, "-t", "-p", dir, "-c", conf, "-e", join(dir, "error.log")], { stderr: "pipe" });
  return { exitCode: result.exitCode, stderr: result.stderr.toString() };
}

/** Runs nginx in the foreground until `use` is done. */
async function withNginx(conf: string, dir: string, port: number, use: () => Promise<void>): Promise<void> {
  const child = Bun.spawn([nginx!, "-p", dir, "-c", conf, "-e", join(dir, "error.log")], { stdout: "ignore", stderr: "pipe" });
  try {
    const errorLog = () => readFileSync(join(dir, "error.log"), "utf8");
    const answers = async () => (await fetch(`http://127.0.0.1:${port}/`, { redirect: "manual" }).catch(() => null)) !== null;
    await waitFor(async () => child.exitCode !== null || (await answers()), errorLog);
    if (child.exitCode !== null) throw new Error(`nginx did not start: ${errorLog()}`);
    await use();
  } finally {
    child.kill("SIGTERM");
    await child.exited;
  }
}

/** Stands in for Endpoint behind nginx: says which path and forwarding headers reached it. */
function fakeEndpoint() {
  const seen: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      seen.push(path);
      const header = (name: string) => request.headers.get(name);
      return Response.json({ path, host: header("host"), forwardedFor: header("x-forwarded-for"), proto: header("x-forwarded-proto"), requestId: header("x-request-id") });
    },
  });
  return { port: server.port!, seen, stop: () => server.stop(true) };
}

const HOST = { host: "endpoint.example" };

describe("nginx, before certbot: deploy/nginx-site-http.conf", () => {
  test("names no certificate, so nothing stops it from loading on a bare server", () => {
    const site = shipped("nginx-site-http.conf");
    expect(site).not.toContain("ssl");
    expect(site).not.toContain("/etc/letsencrypt");
  });

  test.skipIf(!nginx)("passes nginx -t with no certificate anywhere", () => {
    const { conf, dir } = nginxConf(shipped("nginx-site-http.conf"), "http-t", { http: freePort(), https: 0, app: 8000 });
    const result = nginxTest(conf, dir);
    expect(result.stderr).toContain("test is successful");
    expect(result.exitCode).toBe(0);
  });

  test.skipIf(!nginx)("answers certbot's challenge from the webroot and the probes from Endpoint, and keeps sign-in for https", async () => {
    const app = fakeEndpoint();
    const http = freePort();
    const { conf, dir, webroot } = nginxConf(shipped("nginx-site-http.conf"), "http-live", { http, https: 0, app: app.port }, true);
    mkdirSync(join(webroot, ".well-known", "acme-challenge"), { recursive: true });
    writeFileSync(join(webroot, ".well-known", "acme-challenge", "tok3n"), "tok3n.thumbprint");
    try {
      await withNginx(conf, dir, http, async () => {
        const challenge = await fetch(`http://127.0.0.1:${http}/.well-known/acme-challenge/tok3n`, { headers: HOST });
        expect(challenge.status).toBe(200);
        expect(challenge.headers.get("content-type")).toBe("text/plain");
        expect(await challenge.text()).toBe("tok3n.thumbprint");
        expect((await fetch(`http://127.0.0.1:${http}/.well-known/acme-challenge/other`, { headers: HOST })).status).toBe(404);

        const ready = await fetch(`http://127.0.0.1:${http}/readyz`, { headers: HOST });
        expect(ready.status).toBe(200);
        expect(await ready.json()).toMatchObject({ path: "/readyz", host: "endpoint.example", forwardedFor: "127.0.0.1", proto: "http" });

        const login = await fetch(`http://127.0.0.1:${http}/login`, { method: "POST", headers: HOST, body: "password=secret", redirect: "manual" });
        expect(login.status).toBe(503);
        expect(app.seen).toEqual(["/readyz"]);
      });
    } finally {
      app.stop();
    }
  });
});

describe("nginx, after certbot: deploy/nginx-site.conf", () => {
  test.skipIf(!nginx)("passes nginx -t with a throwaway certificate where certbot puts its own", () => {
    const { conf, dir } = nginxConf(shipped("nginx-site.conf"), "tls-t", { http: freePort(), https: freePort(), app: 8000 });
    const result = nginxTest(conf, dir);
    expect(result.stderr).toContain("test is successful");
    expect(result.exitCode).toBe(0);
  });

  test.skipIf(!nginx)("passes nginx -t with the upstream lines of endpoint@8001 and endpoint@8002 uncommented, as the README does", () => {
    // The README's own sed: s/^    # server 127\.0\.0\.1:\(8001\|8002\) /    server 127.0.0.1:\1 /
    const several = shipped("nginx-site.conf").replace(/^ {4}# server 127\.0\.0\.1:(8001|8002) /gm, "    server 127.0.0.1:$1 ");
    expect(several.match(/^ {4}server 127\.0\.0\.1:800[012] /gm)).toHaveLength(3);
    const { conf, dir } = nginxConf(several, "tls-several-t", { http: freePort(), https: freePort(), app: 8000 });
    const result = nginxTest(conf, dir);
    expect(result.stderr).toContain("test is successful");
    expect(result.exitCode).toBe(0);
  });

  test.skipIf(!nginx)("keeps answering the challenge for renewals, sends the rest to https, and proxies https to Endpoint", async () => {
    const app = fakeEndpoint();
    const http = freePort();
    const https = freePort();
    const { conf, dir, webroot } = nginxConf(shipped("nginx-site.conf"), "tls-live", { http, https, app: app.port }, true);
    mkdirSync(join(webroot, ".well-known", "acme-challenge"), { recursive: true });
    writeFileSync(join(webroot, ".well-known", "acme-challenge", "renew"), "renew.thumbprint");
    try {
      await withNginx(conf, dir, http, async () => {
        const challenge = await fetch(`http://127.0.0.1:${http}/.well-known/acme-challenge/renew`, { headers: HOST });
        expect(challenge.status).toBe(200);
        expect(await challenge.text()).toBe("renew.thumbprint");

        const plain = await fetch(`http://127.0.0.1:${http}/login?next=/admin`, { headers: HOST, redirect: "manual" });
        expect(plain.status).toBe(301);
        expect(plain.headers.get("location")).toBe("https://endpoint.example/login?next=/admin");

        const secure = await fetch(`https://127.0.0.1:${https}/login`, { headers: HOST, tls: { rejectUnauthorized: false } });
        expect(secure.status).toBe(200);
        expect(secure.headers.get("strict-transport-security")).toContain("max-age=");
        const seen = await secure.json();
        expect(seen).toMatchObject({ path: "/login", host: "endpoint.example", forwardedFor: "127.0.0.1", proto: "https" });
        expect(seen.requestId).toMatch(/^[0-9a-f]{32}$/);
        expect(app.seen).toEqual(["/login"]);
      });
    } finally {
      app.stop();
    }
  });
});

describe("README deployment", () => {
  test("names every file in deploy/, and only files that are there", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const deployment = readme.slice(readme.indexOf("## Deployment"), readme.indexOf("\n## ", readme.indexOf("## Deployment") + 1));
    const named = new Set([...deployment.matchAll(/deploy\/([\w@.-]*\w)/g)].map((m) => m[1]!));
    expect([...named].sort()).toEqual(readdirSync(DEPLOY).sort());
    expect(deployment).toContain("endpoint@8001.service");
  });

  test("the edit it makes to endpoint.yaml finds its line", () => {
    expect(readFileSync(join(ROOT, "endpoint.yaml"), "utf8")).toMatch(/^ {2}trusted_proxies: 0$/m);
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, explain: () => string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`condition not met in time:\n${explain()}`);
}
