// Users' optional e-mail address: where a "forgot password" link is sent. Unique without regard to case (as
// usernames are), kept as typed; the rule and its audit row live here; users.ts sets it.
import { type Kysely, sql } from "kysely";
import type { Database } from "../../db/schema.ts";
import { conflict, invalid } from "../errors.ts";

export const MAX_EMAIL_LENGTH = 254;
// One @, no spaces or control characters, a dot in the domain: enough to catch typing mistakes; the mail
// server is the real judge. Angle brackets and CR/LF are refused so an address can never inject SMTP commands.
const EMAIL_PATTERN = /^[^\s@<>()\[\]\\,;:"\u0000-\u001f\u007f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;

/** Throws a 422 EndpointError unless `email` looks like an address. */
export function checkEmail(email: string): void {
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL_PATTERN.test(email))
    throw invalid("email_invalid", "email must be an address such as joe@example.com", [{ path: "/email", message: "not an e-mail address" }]);
}

export const emailTaken = () => conflict("email_exists", "another user already has this email address");

/** The user with this address, without regard to case. */
export async function findUserByEmail(db: Kysely<Database>, email: string) {
  return db
    .selectFrom("users")
    .select(["id", "username", "email", "disabled"])
    .where(sql<string>`lower(email)`, "=", email.trim().toLowerCase())
    .executeTakeFirst();
}
