/** Hooks the pages share: live lists, one-off fetches, the clock. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api.js';
import { live } from './live.js';
import { applyChanges, ChangeBuffer, type MergeRules } from './logic/changes.js';

/** How often lists are fetched again when the server has no change feed. */
const POLL_MS = 10_000;

export interface LiveRows<T> {
  /** Rows by key; replaced (a new Map) whenever they change. */
  readonly rows: ReadonlyMap<string, T>;
  readonly loaded: boolean;
  readonly error: string | undefined;
  /** Fetch the list again now. */
  refetch(): void;
}

/**
 * A list fetched from the API and kept current from the change feed: the feed is asked first,
 * the list fetched once it is ready, and the changes that came during the fetch applied on top.
 */
export function useLiveRows<T>(load: (signal: AbortSignal) => Promise<readonly T[]>, keyOf: (row: T) => string, rules: MergeRules<T>, deps: readonly unknown[]): LiveRows<T> {
  const [state, setState] = useState<{ rows: ReadonlyMap<string, T>; loaded: boolean; error: string | undefined }>({ rows: new Map(), loaded: false, error: undefined });
  const refetchRef = useRef<() => void>(() => undefined);
  useEffect(() => {
    let cancelled = false;
    let controller = new AbortController();
    const buffer = new ChangeBuffer();
    let rows = new Map<string, T>();
    let poll: number | undefined;
    setState({ rows, loaded: false, error: undefined });
    const fetchNow = async (): Promise<void> => {
      controller.abort();
      controller = new AbortController();
      const signal = controller.signal;
      buffer.hold();
      try {
        const items = await load(signal);
        if (cancelled || signal.aborted) return;
        const next = new Map<string, T>();
        for (const item of items) next.set(keyOf(item), item);
        applyChanges(next, buffer.release(), rules);
        rows = next;
        setState({ rows: next, loaded: true, error: undefined });
      } catch (err) {
        if (cancelled || signal.aborted) return;
        buffer.release();
        setState((s) => ({ ...s, error: errorText(err) }));
      }
    };
    const startPolling = (): void => {
      if (poll === undefined) poll = window.setInterval(() => void fetchNow(), POLL_MS);
    };
    refetchRef.current = () => void fetchNow();
    const unsubscribe = live.subscribe({
      onChange(events) {
        const now = events.filter((e) => buffer.offer(e));
        if (now.length === 0) return;
        const next = new Map(rows);
        if (applyChanges(next, now, rules)) {
          rows = next;
          setState((s) => ({ ...s, rows: next }));
        }
      },
      onReset: () => void fetchNow(),
      onUnavailable: startPolling,
    });
    void live.whenReady().then((mode) => {
      if (cancelled) return;
      void fetchNow();
      if (mode === 'unavailable') startPolling();
    });
    return () => {
      cancelled = true;
      controller.abort();
      unsubscribe();
      if (poll !== undefined) clearInterval(poll);
    };
  }, deps);
  return { ...state, refetch: () => refetchRef.current() };
}

export interface Loaded<T> {
  readonly value: T | undefined;
  readonly error: string | undefined;
  readonly loading: boolean;
  reload(): void;
}

/** One fetch, again whenever deps change (or reload() is called). */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [nonce, setNonce] = useState(0);
  const [state, setState] = useState<{ value: T | undefined; error: string | undefined; loading: boolean }>({ value: undefined, error: undefined, loading: true });
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(controller.signal).then(
      (value) => {
        if (!controller.signal.aborted) setState({ value, error: undefined, loading: false });
      },
      (err: unknown) => {
        if (!controller.signal.aborted) setState((s) => ({ value: s.value, error: errorText(err), loading: false }));
      },
    );
    return () => controller.abort();
  }, [...deps, nonce]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}

/** The current time, updated every `everyMs` (for "5 min ago" and running durations). */
export function useNow(everyMs = 10_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
