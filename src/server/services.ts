// What Endpoint's own routes use at request time, handed to every handler as `context.services`: made once by
// assembleEndpoint, so a route table can be built (and listed by `routes`) without any of them.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import type { MfaKeys } from "../accounts/mfa-cipher.ts";
import type { AuthCache } from "../auth/auth-cache.ts";
import type { AcceptedOrigins } from "../auth/origins.ts";
import type { PasswordChecker } from "../auth/password-check.ts";
import type { PasswordGate } from "../auth/password-gate.ts";
import type { TokenCodec } from "../auth/token-codec.ts";
import type { EndpointMetrics } from "./metrics.ts";
import type { Route } from "./route.ts";
import type { SetupLink } from "./setup-link.ts";

export interface Readiness {
  ready: boolean;
  database: "ok" | "unavailable";
  pendingMigrations: number;
  lastMigration: string | null;
  configHash: string;
}

export interface EndpointServices {
  db: Kysely<Database>;
  /** Sessions, token records and users as the guard sees them; a change made here drops its entries at once. */
  cache: AuthCache;
  codec: TokenCodec;
  /** Encrypt and decrypt MFA secrets (derived from the signing secret and the previous ones). */
  mfaKeys: MfaKeys;
  /** Sign-in's password checks (bounded concurrency, a dummy hash for unknown users). */
  gate: PasswordGate;
  /** A signed-in user's password, checked again (sudo mode, the account page). */
  passwords: PasswordChecker;
  setupLink: SetupLink;
  /** Where cookie-authenticated changes may come from (the sign-in and setup forms check it too). */
  origins: AcceptedOrigins;
  readiness: () => Promise<Readiness>;
  /** The route table this app serves. */
  routes: readonly Route[];
  /** Counts for /metrics (one registry per Endpoint, kept across reloads). */
  metrics: EndpointMetrics;
}
