// Who is calling: the identity the guard resolved from a session cookie or an API token.

export type Credential = "session" | "token";

export interface Principal {
  id: string;
  username: string;
  /** Group names the principal is a member of (a token acts with its owner's groups). */
  groups: readonly string[];
  via: Credential;
  /** For a token principal: the token's id (its jti) and the route names it is limited to, if any. */
  tokenId?: string;
  tokenRoutes?: readonly string[] | null;
}
