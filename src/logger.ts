// Structured logs: one JSON object per line, UTC timestamps, control characters escaped by JSON itself, so a
// username holding "\r\n{...}" cannot forge a line. Lines are buffered and written in batches, not one
// synchronous write per request.
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
  const baseText = Object.keys(base).length ? `,${JSON.stringify(base).slice(1, -1)}` : "";
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (LEVELS[level] < LEVELS[minimum]) return;
    const rest = fields ? JSON.stringify(fields) : "{}";
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
      sink.write(`{"time":"${isoNow()}","level":"info","event":${JSON.stringify(event)}${baseText},${members}}\n`);
    },
    child: (fields) => createLogger(sink, minimum, { ...base, ...fields }),
  };
}
