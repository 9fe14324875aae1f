import { EventEmitter } from 'node:events';
import type { LogChunk, RequestRecord } from '@sky/protocol';

export interface RequestEvents {
  log(chunk: LogChunk): void;
  /** The request reached a terminal status; carries the final record so listeners need not read it again. */
  end(record: RequestRecord): void;
}

export interface RefusedSubmit {
  name: string;
  body: unknown;
  user: string;
  userName: string;
  cluster?: string;
  error: unknown;
}

/** Ended requests remembered so an end seen twice (locally, then in the shared feed) wakes waiters once. */
const MAX_WOKEN = 10_000;

/** In-process fan-out of request log chunks and completions to streaming and waiting clients. */
export class LogBus {
  private readonly emitter = new EventEmitter();
  /** Requests whose end was announced lately (oldest forgotten first), so each end wakes waiters once. */
  private readonly woken = new Set<string>();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(id: string, chunk: LogChunk): void {
    this.emitter.emit(`log:${id}`, chunk);
  }

  /** A request of this process reached a terminal status: wake its waiters (once) and tell the audit feed. */
  finish(record: RequestRecord): void {
    this.wake(record);
    this.emitter.emit('end', record);
  }

  /**
   * A request seen terminal in the feed every replica shares (another replica's, or this
   * one's own change coming back): wake its waiters here unless they were woken already.
   * Not an audit event: the replica that ended it records that.
   */
  ended(record: RequestRecord): void {
    this.wake(record);
  }

  private wake(record: RequestRecord): void {
    if (this.woken.has(record.id)) return;
    this.woken.add(record.id);
    if (this.woken.size > MAX_WOKEN) this.woken.delete(this.woken.values().next().value!);
    this.emitter.emit(`end:${record.id}`, record);
  }

  /** Every request that reaches a terminal status (the audit log's feed). */
  onAnyEnd(listener: (record: RequestRecord) => void): () => void {
    this.emitter.on('end', listener);
    return () => this.emitter.off('end', listener);
  }

  /** A submit refused before it was stored (e.g. FORBIDDEN from an operation's validation). */
  refused(input: RefusedSubmit): void {
    this.emitter.emit('refused', input);
  }

  onRefused(listener: (input: RefusedSubmit) => void): () => void {
    this.emitter.on('refused', listener);
    return () => this.emitter.off('refused', listener);
  }

  /** Listeners attached now, over every request (streams and waiters unsubscribe when they end). */
  listenerCount(): number {
    return this.emitter.eventNames().reduce((sum, name) => sum + this.emitter.listenerCount(name), 0);
  }

  subscribe(id: string, events: Partial<RequestEvents>): () => void {
    const { log, end } = events;
    if (log) this.emitter.on(`log:${id}`, log);
    if (end) this.emitter.on(`end:${id}`, end);
    return () => {
      if (log) this.emitter.off(`log:${id}`, log);
      if (end) this.emitter.off(`end:${id}`, end);
    };
  }
}
