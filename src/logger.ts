// Structured logs: one JSON object per line, UTC timestamps, control characters escaped by JSON itself, so a
// username holding "\r\n{...}" cannot forge a line. Lines are buffered and written in batches, not one
// synchronous write per request. Credentials never reach a line (see redaction below), and security events —
// every audited change, lock-outs, sudo confirmations — go to the loggers of the servers in this process.
import { writeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /**
   * An info line whose fields are already JSON members (`"a":1,"b":"x"`): for the access log, written once per
   * request, where building an object only to stringify it again is measurable. The caller encodes every value.
   */
  infoEncoded(event: string, members: string): void;
  /** A logger that adds `fields` to every line (e.g. the request id). */
  child(fields: LogFields): Logger;
}

export interface LogSink {
  write(line: string): void;
  flush(): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A sink that collects lines and writes them to a file descriptor every few milliseconds or 64 KiB. */
export function bufferedSink(fd = 1, intervalMs = 50): LogSink {
  let buffer: string[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return;
    const text = buffer.join("");
    buffer = [];
    size = 0;
    try {
      writeSync(fd, text);
    } catch {
      // A closed stdout must not take the server down.
    }
  };
  return {
    write(line) {
      buffer.push(line);
      size += line.length;
      if (size >= 65_536) flush();
      else timer ??= setTimeout(flush, intervalMs);
    },
    flush,
  };
}

/** A sink that keeps lines in memory (for tests and the CLI). */
export function memorySink(): LogSink & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (line) => void lines.push(line), flush() {} };
}

/** The current time as ISO text, made at most once per millisecond (busy servers log many lines per ms). */
let lastMs = 0;
let lastIso = "";
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

export function createLogger(sink: LogSink, minimum: LogLevel = "info", base: LogFields = {}): Logger {
  // The line is spliced from JSON text rather than built by copying objects: this runs once per request.
  const baseText = Object.keys(base).length ? `,${encodeRedacted(base).slice(1, -1)}` : "";
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (LEVELS[level] < LEVELS[minimum]) return;
    const rest = fields ? encodeRedacted(fields) : "{}";
    const head = `{"time":"${isoNow()}","level":"${level}","event":${JSON.stringify(event)}${baseText}`;
    sink.write(`${head}${rest === "{}" ? "}" : `,${rest.slice(1)}`}\n`);
  };
  return {
    debug: (event, fields) => emit("debug", event, fields),
    info: (event, fields) => emit("info", event, fields),
    warn: (event, fields) => emit("warn", event, fields),
    error: (event, fields) => emit("error", event, fields),
    infoEncoded(event, members) {
      if (LEVELS.info < LEVELS[minimum]) return;
      // The access log holds no header, cookie or query string; its path and X-Request-Id are the client's, so
      // they get the cheap checks (about 40 ns a line) and are redacted only when one fires.
      if (members.includes("ept_") || members.includes("eyJ") || hasLongRun(members)) members = redactText(members);
      sink.write(`{"time":"${isoNow()}","level":"info","event":${JSON.stringify(event)}${baseText},${members}}\n`);
    },
    child: (fields) => createLogger(sink, minimum, { ...base, ...fields }),
  };
}

// ---- Redaction -------------------------------------------------------------------------------------------------
// What a credential looks like here: an API token (`ept_` + a JWT), a bare JWT, a session id, CSRF token or setup
// token (32 random bytes: 43 base64url characters), an `Authorization` value, a password. Values are redacted by
// shape wherever they appear (any run of 43 or more base64url characters, so one glued to other text is caught);
// fields by name (passwords have no shape). Over-redaction is the safe failure, but a run with no capital letter is
// kept: our secrets are random base64url, which holds a capital in all but about 1 in 5 billion draws of 43
// characters, while long names (migrations such as 20261125000100_token_parents_and_jsonb_repair, slugs, hex
// digests) have none. A long mixed-case username still shows as [redacted].

export const REDACTED = "[redacted]";
/** Field names whose string or object values are never logged: `password`, `new_password`, `_csrf`, `set-cookie`… */
const SECRET_FIELD = /^(?:.*[_-])?(?:password|passwd|secret|secrets|authorization|cookie|cookies|set-cookie|csrf|csrf_token|token|session_id|api_key)$/i;
/** A superset test on JSON text: can redaction change anything in it? (JSON escaping never splits these.) */
const MIGHT_HOLD_SECRET = /ept_|eyJ|bearer|basic|passw|secret|authori|cookie|csrf|token|session_id|api_key/i;
const LONG_RUN_LENGTH = 43;
const LONG_RUN = /[A-Za-z0-9_-]{43,}/g;
/** A long run without a capital letter: a name or a hex digest, not a random secret (see above). */
const NO_CAPITAL = /^[^A-Z]+$/;

const isRunCharacter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95;

/**
 * Whether `text` holds a run of 43 or more base64url characters (the length of a session id). Probes every 43rd
 * character and measures the run around a probe that lands in one, so a typical line costs a few dozen reads.
 */
export function hasLongRun(text: string): boolean {
  for (let probe = LONG_RUN_LENGTH - 1; probe < text.length; probe += LONG_RUN_LENGTH) {
    if (!isRunCharacter(text.charCodeAt(probe))) continue;
    let start = probe;
    while (start > 0 && isRunCharacter(text.charCodeAt(start - 1))) start--;
    let end = probe + 1;
    while (end < text.length && isRunCharacter(text.charCodeAt(end))) end++;
    if (end - start >= LONG_RUN_LENGTH) return true;
    probe = end - 1; // the next run starts after `end`; a 43-long one still covers the next probe
  }
  return false;
}

/** `text` with every token, JWT, Bearer/Basic credential, `password=`-style pair and session-id-like run replaced. */
export function redactText(text: string): string {
  if (!MIGHT_HOLD_SECRET.test(text) && !hasLongRun(text)) return text;
  return text
    .replace(/ept_[\w.-]*/g, `ept_${REDACTED}`)
    .replace(/eyJ[\w-]*\.[\w-]*(?:\.[\w-]*)?/g, REDACTED)
    .replace(/\b(bearer|basic)(\s+)[^\s"',;]+/gi, `$1$2${REDACTED}`)
    .replace(/\b(password|passwd|token|secret|_?csrf)=[^&\s"';]*/gi, `$1=${REDACTED}`)
    .replace(LONG_RUN, (run) => (NO_CAPITAL.test(run) ? run : REDACTED));
}

/** JSON.stringify's replacer: secret-named fields and secret-shaped strings out. */
function redactValue(key: string, value: unknown): unknown {
  if (typeof value === "string") return key !== "" && SECRET_FIELD.test(key) ? REDACTED : redactText(value);
  if (key !== "" && value !== null && typeof value === "object" && SECRET_FIELD.test(key)) return REDACTED;
  return value;
}

/** Fields as JSON, redacted: encoded once, and a second time through the replacer only when the text might need it. */
function encodeRedacted(fields: LogFields): string {
  const text = JSON.stringify(fields);
  return MIGHT_HOLD_SECRET.test(text) || hasLongRun(text) ? JSON.stringify(fields, redactValue) : text;
}

// ---- Security events -------------------------------------------------------------------------------------------
// Every audited change (token and session revocations, admin changes…), lock-outs and sudo confirmations are also
// log lines, `"event":"security"` at info, so a log pipeline sees them without reading the database. The accounts
// core cannot be handed a logger through every call, so a server attaches its logger here while it runs; the CLI
// attaches none (its changes are in the audit log, and its output is its interface).

const securityLogs = new Set<Logger>();

/** Send security events to `log` until the returned function is called. */
export function attachSecurityLog(log: Logger): () => void {
  securityLogs.add(log);
  return () => void securityLogs.delete(log);
}

/** What a security event says: the action (an audit action), who, to what, from where. */
export interface SecurityEvent {
  action: string;
  actor: string;
  source: string;
  target: string;
  client: string | null;
  detail?: Record<string, unknown>;
}

/** Log one security event on every attached logger. */
export function logSecurityEvent(event: SecurityEvent): void {
  for (const log of securityLogs) log.info("security", event as unknown as LogFields);
}
