// How the guard learns who is calling. "Authentication" supplies the real one (sessions and tokens); until a
// request presents credentials an Authenticator recognises, the principal is null and only public routes answer.
import type { Credential, Principal } from "./principal.ts";

export interface AuthResult {
  principal: Principal | null;
  /** Credentials the request presented that the route accepts (for logs: "the auth mode tried"). */
  tried: Credential[];
  /** Why presented credentials were refused, for the log only (never the response body). */
  failure?: string;
  /** For a session principal: which session, and its CSRF token. */
  session?: { idHash: string; csrfToken: string; authenticatedAt: number };
}

export interface Authenticator {
  authenticate(request: Request, accepts: readonly Credential[]): Promise<AuthResult> | AuthResult;
}

/** Recognises nobody: every non-public route answers 401. */
export const anonymousOnly: Authenticator = {
  authenticate: () => ({ principal: null, tried: [] }),
};
