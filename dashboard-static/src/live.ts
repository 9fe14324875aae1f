/**
 * The app's one connection to the change feed (GET /api/v1/events, server-sent events). Pages
 * subscribe to it; changes reach them batched once per animation frame. EventSource reconnects
 * by itself and resumes with Last-Event-ID; a `reset` asks every page to fetch its lists again.
 * When the server has no feed (404) or refuses it, pages fall back to fetching every 10 s.
 */
import { API } from './api.js';
import { parseChange, type ChangeEvent } from './logic/changes.js';

export type FeedMode = 'connecting' | 'live' | 'unavailable';

export interface FeedListener {
  onChange(events: readonly ChangeEvent[]): void;
  /** The feed could not resume: fetch the lists again. */
  onReset(): void;
  /** The feed went away for good: poll instead. */
  onUnavailable?(): void;
}

/** How long a page waits for the feed's `ready` before fetching anyway. */
const READY_WAIT_MS = 1500;

class LiveFeed {
  mode: FeedMode = 'connecting';
  private source: EventSource | undefined;
  private readonly listeners = new Set<FeedListener>();
  private waiters: Array<(mode: FeedMode) => void> = [];
  private pending: ChangeEvent[] = [];
  private frame = 0;

  connect(allUsers: boolean): void {
    this.source?.close();
    this.mode = 'connecting';
    this.pending = [];
    let source: EventSource;
    try {
      source = new EventSource(`${API}/events${allUsers ? '?all_users=true' : ''}`, { withCredentials: true });
    } catch {
      this.setUnavailable();
      return;
    }
    this.source = source;
    source.addEventListener('ready', () => {
      if (this.source !== source) return;
      // After a reconnect, what happened meanwhile was replayed (from Last-Event-ID) before `ready`.
      this.mode = 'live';
      this.wake();
    });
    source.addEventListener('change', (ev) => {
      if (this.source !== source) return;
      const change = parseChange((ev as MessageEvent<string>).data);
      if (change === undefined) return;
      this.pending.push(change);
      this.schedule();
    });
    source.addEventListener('reset', () => {
      if (this.source !== source) return;
      this.flush();
      for (const l of this.listeners) l.onReset();
    });
    source.addEventListener('error', () => {
      if (this.source !== source) return;
      // CLOSED: the server refused the stream (404, 401, not an event stream): no feed here.
      if (source.readyState === EventSource.CLOSED) this.setUnavailable();
    });
  }

  private setUnavailable(): void {
    this.mode = 'unavailable';
    this.source?.close();
    this.source = undefined;
    this.wake();
    for (const l of this.listeners) l.onUnavailable?.();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(this.mode);
  }

  /** Resolves once the feed is live (or known absent, or slow to answer): time to fetch lists. */
  whenReady(): Promise<FeedMode> {
    if (this.mode !== 'connecting') return Promise.resolve(this.mode);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(this.mode);
      }, READY_WAIT_MS);
      const done = (mode: FeedMode): void => {
        clearTimeout(timer);
        resolve(mode);
      };
      this.waiters.push(done);
    });
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private schedule(): void {
    if (this.frame !== 0) return;
    const run = (): void => {
      this.frame = 0;
      this.flush();
    };
    // Hidden tabs get no animation frames: a timer keeps the tables current there too.
    this.frame = document.hidden ? window.setTimeout(run, 250) : requestAnimationFrame(run);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const l of this.listeners) l.onChange(batch);
  }
}

export const live = new LiveFeed();
