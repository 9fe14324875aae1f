/**
 * A log followed live over server-sent events (`log` then `end`), virtualised: only the lines in
 * view are in the DOM (fixed line height), lines arriving in between are added once per
 * animation frame, and at most LINE_CAP lines are kept (Download has the whole log).
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { LineQueue, LineSplitter, LogLines, rankLine } from '../logic/log-lines.js';
import { bottomScrollTop, isAtBottom, visibleWindow } from '../logic/virtual.js';

const LINE_HEIGHT = 18;
const LINE_CAP = 1_000_000;
/** Lines added per frame at most: the rest waits for the next frame. */
const LINES_PER_FRAME = 20_000;

export interface LogViewerProps {
  /** The event-stream URL of the log (with its query). */
  readonly src: string;
  /** Where Download points (the whole log as text). */
  readonly downloadHref: string;
  /** Label lines with their rank (a multi-node job). */
  readonly multiNode?: boolean;
  /** What the stream holds, for the heading. */
  readonly note?: string;
}

interface LogData {
  rank?: unknown;
  text?: unknown;
}

export function LogViewer(props: LogViewerProps) {
  const box = useRef<HTMLDivElement>(null);
  const lines = useRef(new LogLines(LINE_CAP));
  const [count, setCount] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(400);
  const [follow, setFollow] = useState(true);
  const followRef = useRef(true);
  followRef.current = follow;
  const autoScroll = useRef(false);
  const [state, setState] = useState<{ phase: 'loading' | 'streaming' | 'ended' | 'broken'; status?: string; error?: string }>({ phase: 'loading' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const store = lines.current;
    store.clear();
    setCount(0);
    setState({ phase: 'loading' });
    const queue = new LineQueue();
    const splitter = new LineSplitter();
    let frame = 0;
    const paint = (): void => {
      frame = 0;
      store.append(queue.drain(LINES_PER_FRAME));
      setCount(store.length + store.dropped);
      if (queue.pending > 0) frame = requestAnimationFrame(paint);
    };
    const schedule = (): void => {
      if (frame === 0) frame = requestAnimationFrame(paint);
    };
    const source = new EventSource(props.src, { withCredentials: true });
    source.addEventListener('open', () => setState((s) => (s.phase === 'loading' ? { phase: 'streaming' } : s)));
    source.addEventListener('log', (ev) => {
      let data: LogData;
      try {
        data = JSON.parse((ev as MessageEvent<string>).data) as LogData;
      } catch {
        return;
      }
      const text = typeof data.text === 'string' ? data.text : '';
      const rank = typeof data.rank === 'number' ? data.rank : undefined;
      if (rank !== undefined) {
        // A job's log: one event per line of one rank.
        queue.push([rankLine(rank, text.endsWith('\n') ? text.slice(0, -1) : text, props.multiNode === true)]);
      } else {
        queue.push(splitter.push(text));
      }
      schedule();
    });
    source.addEventListener('end', (ev) => {
      queue.push(splitter.flush());
      schedule();
      let status: string | undefined;
      try {
        const data = JSON.parse((ev as MessageEvent<string>).data) as { status?: unknown };
        status = typeof data.status === 'string' ? data.status : undefined;
      } catch {
        status = undefined;
      }
      source.close();
      setState({ phase: 'ended', ...(status !== undefined ? { status } : {}) });
    });
    source.addEventListener('error', (ev) => {
      // The server's own `error` event carries data; a broken connection does not. Either
      // way the stream is closed: reconnecting would replay the log from its start.
      let message = 'the log stream broke off';
      const data = (ev as MessageEvent<unknown>).data;
      if (typeof data === 'string') {
        try {
          const parsed = JSON.parse(data) as { message?: unknown; error?: { message?: unknown } };
          const m = parsed.message ?? parsed.error?.message;
          if (typeof m === 'string') message = m;
        } catch {
          message = data;
        }
      }
      source.close();
      queue.push(splitter.flush());
      schedule();
      setState((s) => (s.phase === 'ended' ? s : { phase: 'broken', error: message }));
    });
    return () => {
      source.close();
      cancelAnimationFrame(frame);
    };
  }, [props.src, props.multiNode, attempt]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el === null) return;
    setViewport(el.clientHeight);
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const total = lines.current.length;
  // Follow: keep the last line in view as lines arrive.
  useLayoutEffect(() => {
    const el = box.current;
    if (el === null || !followRef.current) return;
    const target = bottomScrollTop(total, LINE_HEIGHT, el.clientHeight);
    if (Math.abs(el.scrollTop - target) > 1) {
      autoScroll.current = true;
      el.scrollTop = target;
      setScrollTop(el.scrollTop);
    }
  }, [count, follow, viewport]);

  const onScroll = (): void => {
    const el = box.current;
    if (el === null) return;
    if (autoScroll.current) {
      autoScroll.current = false;
    } else if (followRef.current && !isAtBottom(el.scrollTop, el.clientHeight, el.scrollHeight, LINE_HEIGHT)) {
      setFollow(false);
    }
    setScrollTop(el.scrollTop);
  };

  const win = visibleWindow(scrollTop, viewport, LINE_HEIGHT, total, 20);
  const shown = lines.current.slice(win.start, win.end);
  const dropped = lines.current.dropped;
  return (
    <section class="log-viewer" aria-label="Log viewer">
      <div class="log-bar">
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow
        </label>
        <a class="button" href={props.downloadHref} download>
          Download
        </a>
        <span class="log-state" data-log-state={state.phase}>
          {total.toLocaleString()} lines
          {dropped > 0 ? ` (first ${dropped.toLocaleString()} dropped: Download has them)` : ''}
          {props.note !== undefined ? ` · ${props.note}` : ''}
          {state.phase === 'loading' ? ' · connecting…' : state.phase === 'streaming' ? ' · live' : state.phase === 'ended' ? ` · ended${state.status !== undefined ? `: ${state.status}` : ''}` : ''}
        </span>
        {state.phase === 'broken' && (
          <>
            <span class="error">{state.error}</span>
            <button type="button" onClick={() => setAttempt((a) => a + 1)}>
              Reload log
            </button>
          </>
        )}
      </div>
      <div class="log" role="log" aria-label="Log" tabIndex={0} ref={box} onScroll={onScroll}>
        <div class="log-space" style={{ height: `${total * LINE_HEIGHT}px` }}>
          <div class="log-lines" style={{ transform: `translateY(${win.padTop}px)` }}>
            {shown.map((l, i) => (
              <div class="log-line" key={win.start + i}>
                {l === '' ? '\u00a0' : l}
              </div>
            ))}
          </div>
        </div>
      </div>
    </section>
  );
}
