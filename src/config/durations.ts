// Durations ("30m", "12h", "90d") and sizes ("1mb", "512kb", "1MiB") as endpoint.yaml writes them.

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Seconds in `30s`, `15m`, `12h`, `90d`, `2w` (or a plain number of seconds); null when unreadable. */
export function parseDuration(text: string | number): number | null {
  if (typeof text === "number") return Number.isInteger(text) && text >= 0 ? text : null;
  const match = /^(\d{1,9})\s*([smhdw])$/i.exec(text.trim());
  if (!match) return /^\d{1,9}$/.test(text.trim()) ? Number(text.trim()) : null;
  return Number(match[1]) * DURATION_UNITS[match[2]!.toLowerCase()]!;
}

/** Bytes in `512kb`, `1mb`, `1MiB` (powers of 1024) or a plain number of bytes; null when unreadable. */
export function parseSize(text: string | number): number | null {
  if (typeof text === "number") return Number.isInteger(text) && text >= 0 ? text : null;
  const match = /^(\d{1,12})\s*([a-z]{1,3})?$/i.exec(text.trim());
  if (!match) return null;
  const unit = SIZE_UNITS[(match[2] ?? "b").toLowerCase()];
  return unit === undefined ? null : Number(match[1]) * unit;
}
