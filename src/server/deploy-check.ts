// `check --deploy`: audit a production setup the way Django's `check --deploy` does. Each finding names the
// setting, why it matters, and the fix.
import { readFileSync } from "node:fs";
import { previousSecretProblems, secretWeakness } from "../auth/secret.ts";
import type { Config } from "../config/schema.ts";

export interface DeployFinding {
  code: string;
  message: string;
  fix: string;
}

export function checkDeployment(config: Config, env: Record<string, string | undefined>, databaseUrl: string | undefined): DeployFinding[] {
  const findings: DeployFinding[] = [];
  const add = (code: string, message: string, fix: string) => findings.push({ code, message, fix });
  const secret = env.ENDPOINT_SECRET ?? config.auth.secret;
  if (!secret) add("secret-missing", "no signing secret: API tokens cannot be issued or checked", "set ENDPOINT_SECRET in the service's environment file (openssl rand -base64 48)");
  else {
    const weakness = secretWeakness(secret);
    if (weakness) add("secret-weak", `the signing secret is too weak: ${weakness}`, "generate a new one with: openssl rand -base64 48");
    if (!env.ENDPOINT_SECRET && readFileSync(config.file, "utf8").includes(secret))
      add("secret-in-config", `auth.secret is written into ${config.file}`, "move it to ENDPOINT_SECRET and write auth.secret: ${ENDPOINT_SECRET} (or remove the key)");
  }
  // Any secret that still verifies can mint tokens: the previous ones are held to the signing secret's rules.
  for (const problem of previousSecretProblems(config))
    if (problem.kind === "weak")
      add("previous-secret-weak", problem.message, `remove entry ${problem.index} from auth.previous_secrets (the tokens it signed stop working; issue new ones)`);
    else
      add("previous-secret-in-config", problem.message, "pass it in from the environment (previous_secrets: [${ENDPOINT_PREVIOUS_SECRET}]), or remove it once its tokens have expired");
  if (env.NODE_ENV !== "production") add("not-production", `NODE_ENV is ${env.NODE_ENV ? `'${env.NODE_ENV}'` : "unset"}`, "set NODE_ENV=production (deploy/endpoint.service does)");
  const url = new URL(config.server.publicUrl);
  if (url.protocol !== "https:") add("public-url-not-https", `server.public_url is ${config.server.publicUrl}: sessions would travel in clear text`, "serve over https behind nginx and set server.public_url: https://your.domain");
  if (["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) add("public-url-default", "server.public_url points at this machine, so sign-in forms from the real site fail the origin check", "set server.public_url to the address browsers use");
  if (!config.auth.cookieSecure) add("cookie-not-secure", "the session cookie is sent without Secure", "use an https public_url (cookie.secure: auto) or set auth.cookie.secure: true");
  if (config.server.trustedProxies === 0) {
    // Limits that count addresses (per: address, and anonymous callers of per: token or user) would count nginx.
    const byAddress = config.server.rateLimits.length > 0 || config.routes.some((route) => route.rateLimits.length > 0);
    add(
      "trusted-proxies-unset",
      `server.trusted_proxies is 0: behind nginx every client would look like 127.0.0.1, and login throttling would lock out everyone at once${byAddress ? "; rate limits would count every anonymous client as one address" : ""}`,
      "set server.trusted_proxies: 1 when nginx is in front (deploy/nginx-site.conf)",
    );
  }
  if (config.server.trustedProxies > 0 && config.server.allowedHosts.length === 0)
    add(
      "allowed-hosts-empty",
      `server.allowed_hosts is empty behind a proxy: requests for any name but ${url.hostname} get 400, and nothing states which names nginx may forward`,
      `list the names nginx's server_name forwards, e.g. server.allowed_hosts: [${url.hostname}]`,
    );
  if (!databaseUrl || databaseUrl.startsWith("pglite:")) add("database-embedded", "the embedded PGlite database serves one process only: no second instance, and the CLI cannot run beside the server", "use PostgreSQL: DATABASE_URL=postgres://endpoint@localhost/endpoint");
  if (config.server.host === "0.0.0.0" || config.server.host === "::") add("listening-everywhere", `server.host is ${config.server.host}: the app is reachable around nginx`, "listen on 127.0.0.1 and let nginx face the network");
  if (config.server.shutdownGraceSeconds > 60) add("shutdown-grace-long", `server.shutdown_grace is ${config.server.shutdownGraceSeconds}s, longer than systemd waits (TimeoutStopSec=30)`, "keep shutdown_grace under TimeoutStopSec");
  if (config.auth.sessionAbsoluteSeconds > 7 * 86400) add("session-too-long", "sessions last longer than a week", "lower auth.session.absolute_timeout (default 12h)");
  return findings;
}
