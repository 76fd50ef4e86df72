// How a command fails: usage mistakes (exit 2) and expected failures (exit 1), each as one line a person can act on.
import { DatabaseError } from "../db/errors.ts";
import { MigrationError } from "../db/migrate.ts";
import { SecretError } from "../src/auth/secret.ts";
import { ConfigError, formatFinding } from "../src/config/load.ts";
import { EndpointError } from "../src/errors.ts";
import { StartError } from "../src/server/start.ts";

/** A mistake in how the command was called: exit 2. */
export class UsageError extends Error {}

/** Exit code 1 with this message, for failures that are not EndpointErrors. */
export class CommandError extends Error {}

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
