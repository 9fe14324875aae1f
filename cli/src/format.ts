/** Columns separated by two spaces, each as wide as its widest cell; the last is not padded. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/**
 * The same layout as table() from one array of cells per column (every column as long as the
 * first), for listings of thousands of rows (sky status -u): no array per row, widths measured
 * in one pass, padding taken from one string of spaces.
 */
export function columnTable(headers: readonly string[], columns: ReadonlyArray<readonly string[]>): string[] {
  const last = headers.length - 1;
  const count = columns[0]?.length ?? 0;
  const widths = headers.map((header, i) => {
    let width = header.length;
    for (const cell of columns[i]!) if (cell.length > width) width = cell.length;
    return width;
  });
  const spaces = ' '.repeat(Math.max(0, ...widths) + 2);
  const lines = new Array<string>(count + 1);
  for (let r = -1; r < count; r++) {
    let text = '';
    for (let i = 0; i < last; i++) {
      const value = r < 0 ? headers[i]! : columns[i]![r]!;
      text += value + spaces.slice(0, widths[i]! - value.length + 2);
    }
    const end = r < 0 ? headers[last]! : columns[last]![r]!;
    text += end;
    // Only a line whose last cell is empty or ends in white space has anything to trim.
    lines[r + 1] = end.length > 0 && !/\s/.test(end[end.length - 1]!) ? text : text.trimEnd();
  }
  return lines;
}

/** How long ago a time was, the way `sky status` shows it: "12s ago", "5m ago", "3h ago", "2d ago". */
export function age(then: number, now: number = Date.now()): string {
  const seconds = Math.floor((now - then) / 1000);
  if (seconds < 1) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ago`;
  return `${Math.floor(hours / 24)}d ago`;
}

/** A duration in milliseconds for people: "850 ms", "2.0 s", "3m 12s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${s % 60}s`;
}
