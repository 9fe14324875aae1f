import { Worker } from 'node:worker_threads';
import { SkyError } from '@sky/protocol';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keylen: number;
}

/**
 * The worker's code: scryptSync inside the worker thread, so the hashing runs on the
 * worker's own thread and never on libuv's shared thread pool (where the state store's
 * reads and writes and every fs call wait their turn).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
parentPort.on('message', (job) => {
  try {
    const key = scryptSync(job.password, Buffer.from(job.salt), job.keylen, { N: job.N, r: job.r, p: job.p, maxmem: job.maxmem });
    parentPort.postMessage({ id: job.id, key });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: err && err.message ? err.message : String(err) });
  }
});
`;

interface Job {
  id: number;
  password: string;
  salt: Uint8Array;
  params: ScryptParams;
  resolve(key: Buffer): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/**
 * A few worker threads computing scrypt, with a bounded queue: past `maxQueue` waiting jobs
 * a new one is refused at once (AUTH_BUSY, 503) instead of piling up memory and latency.
 * Workers start on first use, never keep the process alive, and are replaced if one dies.
 */
export class ScryptPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly maxQueue: number,
  ) {}

  /** The derived key, computed on a worker thread. */
  derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
    if (this.closed) return Promise.reject(new SkyError('SHUTTING_DOWN', 'the API server is shutting down'));
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(
        new SkyError('AUTH_BUSY', `${this.queue.length} password checks are already waiting`, { hint: 'Retry in a few seconds.', details: { retryAfterSeconds: 2 } }),
      );
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, password, salt: new Uint8Array(salt), params, resolve, reject });
      this.pump();
    });
  }

  /** How many jobs wait for a worker (for tests and diagnostics). */
  get waiting(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    const error = new SkyError('SHUTTING_DOWN', 'the API server is shutting down');
    for (const job of this.queue.splice(0)) job.reject(error);
    await Promise.all(this.slots.splice(0).map((slot) => {
      slot.job?.reject(error);
      return slot.worker.terminate();
    }));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.job === undefined) ?? this.spawn();
      if (slot === undefined) return;
      const job = this.queue.shift()!;
      slot.job = job;
      const { N, r, p, keylen } = job.params;
      slot.worker.postMessage({ id: job.id, password: job.password, salt: job.salt, N, r, p, keylen, maxmem: 256 * N * r + (1 << 20) });
    }
  }

  private spawn(): Slot | undefined {
    if (this.slots.length >= this.size) return undefined;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    const slot: Slot = { worker, job: undefined };
    worker.on('message', (message: { id: number; key?: Uint8Array; error?: string }) => {
      const job = slot.job;
      if (job === undefined || job.id !== message.id) return;
      slot.job = undefined;
      if (message.key !== undefined) job.resolve(Buffer.from(message.key));
      else job.reject(new Error(`scrypt failed: ${message.error ?? 'unknown error'}`));
      this.pump();
    });
    const retire = (err: Error): void => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      slot.job?.reject(err);
      slot.job = undefined;
      if (!this.closed) this.pump();
    };
    worker.on('error', retire);
    worker.on('exit', (code) => retire(new Error(`the password hashing worker exited (code ${code})`)));
    this.slots.push(slot);
    return slot;
  }
}
