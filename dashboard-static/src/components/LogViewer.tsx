/**
 * A log followed live over server-sent events (`log` then `end`, read with fetch), virtualised: only the lines in
 * view are in the DOM (fixed line height), lines arriving in between are added once per
 * animation frame, and at most LINE_CAP lines are kept (Download has the whole log).
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { errorText } from '../api.js';
import { readEventStream } from '../logstream.js';
import { LineQueue, LineSplitter, LogLines, rankLine } from '../logic/log-lines.js';
import type { SseMessage } from '../logic/sse-parser.js';
import { bottomScrollTop, isAtBottom, visibleWindow } from '../logic/virtual.js';

const LINE_HEIGHT = 18;
const LINE_CAP = 300_000;
/** Lines added per frame at most: the rest waits for the next frame. */
const LINES_PER_FRAME = 20_000;

export interface LogViewerProps {
  /** The event-stream URL of the log (with its query). */
  readonly src: string;
  /** Where Download points (the whole log as text); no Download button without it. */
  readonly downloadHref?: string;
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
    const controller = new AbortController();
    const onMessage = (m: SseMessage): void => {
      if (m.event === 'log') {
        let data: LogData;
        try {
          data = JSON.parse(m.data) as LogData;
        } catch {
          return;
        }
        const text = typeof data.text === 'string' ? data.text : '';
        const rank = typeof data.rank === 'number' ? data.rank : undefined;
        if (rank !== undefined) {
          // A job's log: one event per line of one rank.
          queue.push([rankLine(rank, text.endsWith('\n') ? text.slice(0, -1) : text, props.multiNode === true)]);
        } else {
          // A request's log: each chunk ends a line, with or without its newline (as the CLI prints it).
          queue.push(splitter.push(text.endsWith('\n') ? text : `${text}\n`));
        }
        schedule();
      } else if (m.event === 'end') {
        let status: string | undefined;
        try {
          const data = JSON.parse(m.data) as { status?: unknown };
          status = typeof data.status === 'string' ? data.status : undefined;
        } catch {
          status = undefined;
        }
        ended = true;
        setState({ phase: 'ended', ...(status !== undefined ? { status } : {}) });
      } else if (m.event === 'error') {
        let message = m.data;
        try {
          const parsed = JSON.parse(m.data) as { message?: unknown; error?: { message?: unknown } };
          const text = parsed.message ?? parsed.error?.message;
          if (typeof text === 'string') message = text;
        } catch {
          // keep the raw text
        }
        failed = message;
      }
    };
    let ended = false;
    let failed: string | undefined;
    setState({ phase: 'streaming' });
    readEventStream(props.src, onMessage, controller.signal).then(
      () => {
        queue.push(splitter.flush());
        schedule();
        if (failed !== undefined) setState({ phase: 'broken', error: failed });
        else if (!ended) setState({ phase: 'broken', error: 'the log stream ended before the log did' });
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        queue.push(splitter.flush());
        schedule();
        setState({ phase: 'broken', error: errorText(err) });
      },
    );
    return () => {
      controller.abort();
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
        {props.downloadHref !== undefined && (
          <a class="button" href={props.downloadHref} download>
            Download
          </a>
        )}
        <span class="log-state" data-log-state={state.phase}>
          {(total + dropped).toLocaleString()} {total + dropped === 1 ? 'line' : 'lines'}
          {dropped > 0 ? ` (the first ${dropped.toLocaleString()} are no longer shown: Download has them)` : ''}
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
      <div class="log" role="log" aria-label="Log" tabIndex={0} ref={box} onScroll={onScroll} style={{ height: `min(60vh, ${Math.max(total, 8) * LINE_HEIGHT + 16}px)` }}>
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
