// The one line a person sees for any failure, and its exit code. Loaded only when a command fails: it knows every
// error type, and so imports the modules that define them.
import { DatabaseError } from "../db/errors.ts";
import { MigrationError } from "../db/migrate.ts";
import { SecretError } from "../src/auth/secret.ts";
import { ConfigError, formatFinding } from "../src/config/load.ts";
import { EndpointError } from "../src/errors.ts";
import { StartError } from "../src/server/start.ts";
import { CommandError, UsageError } from "./errors.ts";

/** The one line a person sees for a failure, and the exit code that goes with it. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UsageError) return { message: error.message, exitCode: 2 };
  if (error instanceof ConfigError)
    return { message: error.findings.map(formatFinding).join("\n"), exitCode: 1 };
  if (error instanceof EndpointError || error instanceof DatabaseError || error instanceof CommandError || error instanceof SecretError || error instanceof StartError)
    return { message: error.message, exitCode: 1 };
  if (error instanceof MigrationError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message.split("\n")[0]}` : "";
    return { message: `${error.message}${cause}`, exitCode: 1 };
  }
  const text = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return { message: `unexpected failure: ${text}`, exitCode: 1 };
}
