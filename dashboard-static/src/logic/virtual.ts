/** The rows of a long list that a scrolled viewport shows, with spacers standing in for the rest. */
export interface VisibleWindow {
  /** First row rendered (inclusive). */
  readonly start: number;
  /** Last row rendered (exclusive). */
  readonly end: number;
  /** Height of the spacer before the first rendered row, in pixels. */
  readonly padTop: number;
  /** Height of the spacer after the last rendered row, in pixels. */
  readonly padBottom: number;
}

/**
 * Which rows to render for a viewport scrolled to `scrollTop`, `viewportHeight` tall, over
 * `total` rows of `rowHeight` pixels each, with `overscan` extra rows above and below so a quick
 * scroll does not show blank space before the next frame.
 */
export function visibleWindow(scrollTop: number, viewportHeight: number, rowHeight: number, total: number, overscan: number): VisibleWindow {
  if (total <= 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const top = Math.max(0, scrollTop);
  const height = Math.max(0, viewportHeight);
  const first = Math.min(total - 1, Math.floor(top / rowHeight));
  const last = Math.min(total, Math.ceil((top + height) / rowHeight));
  const start = Math.max(0, first - overscan);
  const end = Math.min(total, Math.max(last, first + 1) + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (total - end) * rowHeight };
}

/** The scrollTop that shows the last row at the bottom of the viewport. */
export function bottomScrollTop(total: number, rowHeight: number, viewportHeight: number): number {
  return Math.max(0, total * rowHeight - viewportHeight);
}

/** Whether a viewport is scrolled to (within a row of) its end. */
export function isAtBottom(scrollTop: number, viewportHeight: number, scrollHeight: number, rowHeight: number): boolean {
  return scrollTop + viewportHeight >= scrollHeight - rowHeight;
}
