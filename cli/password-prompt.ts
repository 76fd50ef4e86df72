// Reading a password: from standard input, the --password flag (with a warning), or a prompt on a terminal that
// does not echo what is typed.
import { CommandError, UsageError } from "./errors.ts";

/**
 * The password from --password-stdin, --password, or a prompt on a terminal. The flag form is visible to other
 * users in the process list, so it draws a warning.
 */
export async function readPassword(args: { password?: string; "password-stdin"?: boolean }): Promise<string> {
  if (args["password-stdin"] && args.password !== undefined)
    throw new UsageError("give either --password or --password-stdin, not both");
  if (args["password-stdin"]) {
    const text = await new Response(Bun.stdin.stream()).text();
    return text.replace(/\r?\n$/, "");
  }
  if (args.password !== undefined) {
    console.error("warning: a password given with --password can be seen in the process list; prefer --password-stdin");
    return args.password;
  }
  if (!process.stdin.isTTY) throw new UsageError("no password given: use --password-stdin (or --password) when not on a terminal");
  const first = await promptHidden("Password: ");
  const second = await promptHidden("Repeat password: ");
  if (first !== second) throw new CommandError("the two passwords differ; nothing was changed");
  return first;
}

/** What was typed after the end of the last answer (pasted ahead), kept for the next prompt. */
let typedAhead = "";

/** Ask on the terminal without echoing what is typed. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let typed = "";
    const finish = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(typed);
    };
    // Returns true once the answer is complete; the rest of the chunk waits for the next prompt.
    const consume = (chunk: string): boolean => {
      const chars = [...chunk];
      for (let i = 0; i < chars.length; i++) {
        const char = chars[i]!;
        if (char === "\r" || char === "\n") {
          typedAhead = chars.slice(i + 1).join("").replace(/^\n/, "");
          return true;
        }
        if (char === "\u0003") throw new CommandError("cancelled");
        if (char === "\u007f" || char === "\b") typed = [...typed].slice(0, -1).join("");
        else typed += char;
      }
      return false;
    };
    const onData = (chunk: string) => {
      try {
        if (consume(chunk)) finish();
      } catch (error) {
        finish(error as Error);
      }
    };
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    const ahead = typedAhead;
    typedAhead = "";
    try {
      if (ahead && consume(ahead)) {
        stdin.setRawMode(false);
        process.stderr.write("\n");
        return resolve(typed);
      }
    } catch (error) {
      stdin.setRawMode(false);
      return reject(error);
    }
    stdin.on("data", onData);
    stdin.resume();
  });
}
