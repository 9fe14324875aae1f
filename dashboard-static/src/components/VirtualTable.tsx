/**
 * A real <table> that renders only the rows in view (plus overscan) between two spacer rows,
 * so 10,000 rows cost as much as 50. Rows have a fixed height (cells do not wrap).
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { SortDir } from '../logic/table.js';
import { visibleWindow } from '../logic/virtual.js';

export interface ColumnDef<T> {
  readonly id: string;
  readonly title: string;
  readonly sortable?: boolean;
  readonly cell: (row: T) => ComponentChildren;
  /** The status column: its cell carries data-status. */
  readonly status?: (row: T) => string;
  readonly className?: string;
}

export const ROW_HEIGHT = 34;
const OVERSCAN = 12;
/** Up to this many rows, all are rendered (no spacers). */
const RENDER_ALL_BELOW = 60;

export interface VirtualTableProps<T> {
  readonly label: string;
  readonly columns: readonly ColumnDef<T>[];
  readonly rows: readonly T[];
  readonly rowKey: (row: T) => string;
  readonly sort?: { column: string; dir: SortDir };
  readonly onSort?: (column: string) => void;
  readonly empty?: ComponentChildren;
  /** Rows in view at most before the table scrolls by itself (the page scrolls otherwise). */
  readonly tall?: boolean;
}

export function VirtualTable<T>(props: VirtualTableProps<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(800);
  const frame = useRef(0);
  const virtual = props.rows.length > RENDER_ALL_BELOW;

  const onScroll = useCallback(() => {
    if (frame.current !== 0) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const el = scroller.current;
      if (el !== null) setScrollTop(el.scrollTop);
    });
  }, []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    setViewport(el.clientHeight);
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const win = virtual ? visibleWindow(Math.max(0, scrollTop - ROW_HEIGHT), viewport, ROW_HEIGHT, props.rows.length, OVERSCAN) : { start: 0, end: props.rows.length, padTop: 0, padBottom: 0 };
  const shown = props.rows.slice(win.start, win.end);
  const cols = props.columns.length;
  return (
    <div class={`table-scroll${virtual || props.tall === true ? ' tall' : ''}`} ref={scroller} onScroll={onScroll}>
      <table aria-label={props.label} aria-rowcount={props.rows.length + 1}>
        <thead>
          <tr aria-rowindex={1}>
            {props.columns.map((c) => {
              const sorted = props.sort?.column === c.id ? props.sort.dir : undefined;
              return (
                <th key={c.id} scope="col" class={c.className} aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}>
                  {c.sortable === true && props.onSort !== undefined ? (
                    <button type="button" class="sort" onClick={() => props.onSort?.(c.id)}>
                      {c.title}
                      <span aria-hidden="true" class="sort-mark">
                        {sorted === 'asc' ? ' ▲' : sorted === 'desc' ? ' ▼' : ''}
                      </span>
                    </button>
                  ) : (
                    c.title
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {win.padTop > 0 && (
            <tr class="spacer" aria-hidden="true">
              <td colSpan={cols} style={{ height: `${win.padTop}px` }} />
            </tr>
          )}
          {shown.map((row, i) => (
            <tr key={props.rowKey(row)} data-key={props.rowKey(row)} aria-rowindex={win.start + i + 2}>
              {props.columns.map((c) => (
                <td key={c.id} class={c.className} data-status={c.status?.(row)}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
          {win.padBottom > 0 && (
            <tr class="spacer" aria-hidden="true">
              <td colSpan={cols} style={{ height: `${win.padBottom}px` }} />
            </tr>
          )}
          {props.rows.length === 0 && (
            <tr class="empty">
              <td colSpan={cols}>{props.empty ?? 'Nothing here.'}</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
