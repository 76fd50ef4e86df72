// "Forgot password" throttling: requests are counted per client address and per name or address typed, in the
// database (so every instance shares the counts), apart from the sign-in failure counts. The name is counted
// whether or not an account has it, so a refusal says nothing about which accounts exist.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";

export const RESET_REQUEST_WINDOW_SECONDS = 15 * 60;
export const MAX_RESET_REQUESTS_PER_ADDRESS = 5;
export const MAX_RESET_REQUESTS_PER_LOGIN = 3;

const windowOver = sql<boolean>`reset_request_throttle.window_started_at < now() - make_interval(secs => ${RESET_REQUEST_WINDOW_SECONDS})`;
const remainingSeconds = sql<number>`greatest(1, ceil(extract(epoch from (window_started_at + make_interval(secs => ${RESET_REQUEST_WINDOW_SECONDS}) - now())))::int)`;

/** Count one request; refused (with the seconds to wait) when the address or the login is past its limit. */
export async function reserveResetRequest(db: Kysely<Database>, login: string, address: string): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
  const limits: Record<string, number> = { [`address:${address}`]: MAX_RESET_REQUESTS_PER_ADDRESS, [`login:${login.toLowerCase()}`]: MAX_RESET_REQUESTS_PER_LOGIN };
  const rows = await db
    .insertInto("reset_request_throttle")
    .values(Object.keys(limits).map((key) => ({ key, requests: 1, window_started_at: sql`now()` })))
    .onConflict((oc) =>
      oc.column("key").doUpdateSet({
        requests: sql`case when ${windowOver} then 1 else reset_request_throttle.requests + 1 end`,
        window_started_at: sql`case when ${windowOver} then now() else reset_request_throttle.window_started_at end`,
      }),
    )
    .returning(["key", "requests", remainingSeconds.as("remaining")])
    .execute();
  let retryAfterSeconds = 0;
  for (const row of rows) if (row.requests > limits[row.key]!) retryAfterSeconds = Math.max(retryAfterSeconds, row.remaining);
  return { allowed: retryAfterSeconds === 0, retryAfterSeconds };
}
