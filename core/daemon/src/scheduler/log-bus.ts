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

/** In-process fan-out of request log chunks and completions to streaming and waiting clients. */
export class LogBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(id: string, chunk: LogChunk): void {
    this.emitter.emit(`log:${id}`, chunk);
  }

  finish(record: RequestRecord): void {
    this.emitter.emit(`end:${record.id}`, record);
    this.emitter.emit('end', record);
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
