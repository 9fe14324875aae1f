import { EventEmitter } from 'node:events';
import type { LogChunk, RequestStatus } from '@sky/protocol';

export interface RequestEvents {
  log(chunk: LogChunk): void;
  end(status: RequestStatus): void;
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

  finish(id: string, status: RequestStatus): void {
    this.emitter.emit(`end:${id}`, status);
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
