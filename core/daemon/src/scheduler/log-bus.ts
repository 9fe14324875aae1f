import { EventEmitter } from 'node:events';
import type { LogChunk, RequestRecord } from '@sky/protocol';

export interface RequestEvents {
  log(chunk: LogChunk): void;
  /** The request reached a terminal status; carries the final record so listeners need not read it again. */
  end(record: RequestRecord): void;
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
