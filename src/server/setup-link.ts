// The first-run link: while the database has no user at all, the server prints a one-time link at start-up that
// lets the person at the console create the first administrator. The token lives only in this process's memory.
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import { secretsEqual } from "../auth/csrf.ts";

/** The one-time setup token of this process, if the database had no user when it started. */
export class SetupLink {
  #token: string | null = null;

  /** Make a token when there is no user yet; returns the link to print, or null. */
  async prepare(db: Kysely<Database>, publicUrl: string): Promise<string | null> {
    const anyone = await db.selectFrom("users").select("id").limit(1).executeTakeFirst();
    if (anyone) return null;
    this.#token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    return `${publicUrl}/setup?token=${this.#token}`;
  }

  matches(presented: string | null | undefined): boolean {
    return this.#token !== null && typeof presented === "string" && secretsEqual(this.#token, presented);
  }

  consume(): void {
    this.#token = null;
  }
}
