// How a command fails: usage mistakes (exit 2) and expected failures (exit 1), each as one line a person can act on.

/** A mistake in how the command was called: exit 2. */
export class UsageError extends Error {}

/** Exit code 1 with this message, for failures that are not EndpointErrors. */
export class CommandError extends Error {}
