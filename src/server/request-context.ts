// Per-request facts the pipeline, the error handler and the access log share: the request id, when it started,
// who the caller turned out to be and why a request was refused.
import type { RefusalReason } from "../auth/guard.ts";
import type { Principal } from "../auth/principal.ts";

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const bootPrefix = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
let counter = 0;

/** A client's X-Request-Id when it is short and plain, else a fresh one (cheap: a per-process prefix and a counter). */
export function requestIdFor(request: Request): string {
  const given = request.headers.get("x-request-id");
  if (given && REQUEST_ID_PATTERN.test(given)) return given;
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${bootPrefix}-${counter.toString(36)}`;
}

export interface RequestFacts {
  requestId: string;
  startedAt: number;
  route?: string;
  principal?: Principal | null;
  authTried?: string[];
  deniedBecause?: string;
  /** The refusal's reason as a fixed word (metrics), set with deniedBecause on a 401 or 403 the pipeline gave. */
  refusalReason?: RefusalReason;
  /** The name of the rate limit that refused the request (429). */
  rateLimitedBy?: string;
  /** The status answered, once known. */
  status?: number;
}
