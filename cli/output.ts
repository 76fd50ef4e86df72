// Printing results: aligned columns for people, JSON (--json) for scripts.

/** Print rows as aligned columns under a header. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  console.log(line(headers));
  for (const row of rows) console.log(line(row));
}

export const printJson = (value: unknown) => console.log(JSON.stringify(value, null, 2));
