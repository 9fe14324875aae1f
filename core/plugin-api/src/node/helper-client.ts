import { connect, type Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import {
  encodeHelperFrame,
  HELPER_LIMITS,
  HelperFrameDecoder,
  HelperResponseSchema,
  HelperResultSchemas,
  SkyError,
  type HelperOp,
  type HelperRequest,
  type HelperResult,
  type HelperSignal,
} from '@sky/protocol';
import type { HelperRunOptions, HelperSession, HelperSessionEnd, HelperSessionOptions, HelperSyncFile, NodeHelper } from './helper.js';

/** Bytes of one syncChunk (well under the frame's payload limit). */
export const SYNC_CHUNK_BYTES = 4 * 1024 * 1024;
/** Files sent at once by syncFiles (each in chunks of at most SYNC_CHUNK_BYTES). */
const FILES_IN_FLIGHT = 4;
/** Files per syncPlan call. */
const PLAN_BATCH = 2000;
/** How long a call may wait for its answer, beyond a run's own timeout. */
const DEFAULT_CALL_TIMEOUT_MS = 120_000;

type Fields<O extends HelperOp> = Omit<Extract<HelperRequest, { op: O }>, 'id' | 'op'>;

interface Waiting {
  op: HelperOp;
  resolve: (answer: { result: unknown; payload: Buffer }) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** A piece of a stream's output (a session's stderr: fd 2). */
  chunk?: (payload: Buffer, fd?: 2) => void;
}

/** Output of a stream held for a reader that has not taken it yet; past this the stream is ended. */
const STREAM_BACKLOG_BYTES = 16 * 1024 * 1024;

export interface NodeHelperClientOptions {
  /** How long a call waits for its answer (a run: its timeout plus this). */
  callTimeoutMs?: number;
}

/**
 * The client of sky-node-helper: one long-lived unix-socket connection, opened on first use,
 * carrying many calls at once (each with an id; answers may come in any order). When the
 * connection drops (the helper restarted), calls in flight fail with NODE_UNREACHABLE and the
 * next call connects again.
 */
export class NodeHelperClient implements NodeHelper {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;
  private readonly callTimeoutMs: number;

  constructor(
    readonly socketPath: string,
    options: NodeHelperClientOptions = {},
  ) {
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  }

  /** Whether the connection is open now (for tests and metrics). */
  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  async hello(): Promise<HelperResult<'hello'>> {
    return this.call('hello', {});
  }

  ensureAccount(account: string): Promise<HelperResult<'ensureAccount'>> {
    return this.call('ensureAccount', { account });
  }

  async makeNodeDir(account: string, node: string): Promise<string> {
    return (await this.call('makeNodeDir', { account, node })).path;
  }

  async statNodeDir(account: string, node: string): Promise<boolean> {
    return (await this.call('statNodeDir', { account, node })).exists;
  }

  async removeNodeDir(account: string, dir: string): Promise<boolean> {
    return (await this.call('removeNodeDir', { account, dir })).removed;
  }

  run(account: string, node: string, command: string, options: HelperRunOptions = {}): Promise<HelperResult<'run'>> {
    if (Buffer.byteLength(command) > HELPER_LIMITS.commandBytes) {
      return Promise.reject(new SkyError('VALIDATION_FAILED', `a command for account ${account} is longer than ${HELPER_LIMITS.commandBytes} bytes`));
    }
    const fields: Fields<'run'> = { account, node, command, ...(options.timeoutMs !== undefined ? { timeoutMs: Math.max(1, Math.round(options.timeoutMs)) } : {}) };
    const wait = options.timeoutMs !== undefined ? options.timeoutMs + this.callTimeoutMs : undefined;
    return this.call('run', fields, undefined, options.signal, wait ?? 24 * 60 * 60 * 1000);
  }

  async *stream(account: string, node: string, command: string, signal: AbortSignal): AsyncGenerator<Buffer> {
    if (Buffer.byteLength(command) > HELPER_LIMITS.commandBytes) {
      throw new SkyError('VALIDATION_FAILED', `a command for account ${account} is longer than ${HELPER_LIMITS.commandBytes} bytes`);
    }
    if (signal.aborted) return;
    const socket = await this.open();
    if (signal.aborted) return;
    const id = this.nextId++;
    const chunks: Buffer[] = [];
    let backlog = 0;
    let finished = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const cancel = (): void => {
      if (finished) return;
      finished = true;
      this.waiting.delete(id);
      if (!socket.destroyed) socket.write(encodeHelperFrame({ id: this.nextId++, op: 'abort', target: id }));
      notify();
    };
    this.waiting.set(id, {
      op: 'stream',
      timer: undefined,
      chunk: (payload) => {
        if (finished) return;
        chunks.push(payload);
        backlog += payload.length;
        if (backlog > STREAM_BACKLOG_BYTES) {
          cancel();
          failure = new SkyError('NODE_RUNTIME_ERROR', `a stream from account ${account} was ended: its reader fell more than ${STREAM_BACKLOG_BYTES} bytes behind`);
        }
        notify();
      },
      resolve: (answer) => {
        finished = true;
        const parsed = HelperResultSchemas.stream.safeParse(answer.result);
        if (!parsed.success) failure = new SkyError('NODE_RUNTIME_ERROR', 'sky-node-helper answered stream with something this daemon cannot read; are both the same sky version?');
        else if (parsed.data.code !== 0) {
          const tail = parsed.data.stderr.trim();
          failure = new SkyError('NODE_RUNTIME_ERROR', `a streamed command as account ${account} exited with code ${parsed.data.code}${tail ? `: ${tail}` : ''}`, {
            hint: 'The command ended on its own; check it on the node.',
          });
        }
        notify();
      },
      reject: (err) => {
        finished = true;
        failure = err;
        notify();
      },
    });
    signal.addEventListener('abort', cancel, { once: true });
    try {
      socket.write(encodeHelperFrame({ account, node, command, id, op: 'stream' }));
      for (;;) {
        if (chunks.length > 0) {
          const out = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, backlog);
          chunks.length = 0;
          backlog = 0;
          yield out;
          continue;
        }
        if (finished) {
          if (failure !== undefined && !signal.aborted) throw failure;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      signal.removeEventListener('abort', cancel);
      cancel();
    }
  }

  async read(account: string, node: string, path: string, offset: number, max: number): Promise<{ data: Buffer; size: number }> {
    const answer = await this.exchange('read', { account, node, path, offset, max: Math.min(max, HELPER_LIMITS.readBytes) });
    return { data: answer.payload, size: HelperResultSchemas.read.parse(answer.result).size };
  }

  async writeFiles(account: string, node: string, dir: string, files: ReadonlyArray<{ path: string; mode: number; data: string | Uint8Array }>): Promise<void> {
    // Batches under the payload limit; a single file larger than that goes through syncFiles' chunks.
    let batch: Array<{ path: string; mode: number; bytes: Buffer }> = [];
    let size = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const payload = Buffer.concat(batch.map((f) => f.bytes));
      await this.exchange('writeFiles', { account, node, dir, files: batch.map((f) => ({ path: f.path, mode: f.mode, bytes: f.bytes.length })) }, payload);
      batch = [];
      size = 0;
    };
    for (const file of files) {
      const bytes = typeof file.data === 'string' ? Buffer.from(file.data) : Buffer.from(file.data.buffer, file.data.byteOffset, file.data.byteLength);
      if (bytes.length > SYNC_CHUNK_BYTES) {
        await flush();
        await this.syncFiles(account, node, dir, [bufferFile(file.path, file.mode, bytes)]);
        continue;
      }
      if (size + bytes.length > SYNC_CHUNK_BYTES || batch.length >= PLAN_BATCH) await flush();
      batch.push({ path: file.path, mode: file.mode, bytes });
      size += bytes.length;
    }
    await flush();
  }

  async syncFiles(account: string, node: string, dest: string, files: readonly HelperSyncFile[], dirs: readonly string[] = []): Promise<number> {
    let written = 0;
    for (let at = 0; at < Math.max(files.length, dirs.length); at += PLAN_BATCH) {
      const slice = files.slice(at, at + PLAN_BATCH);
      const plan = await this.call('syncPlan', {
        account,
        node,
        dest,
        files: slice.map((f) => ({ path: f.path, size: f.size, mtimeMs: Math.max(0, f.mtimeMs) })),
        dirs: dirs.slice(at, at + PLAN_BATCH),
      });
      const queue = plan.need.map((i) => slice[i]).filter((f): f is HelperSyncFile => f !== undefined);
      const send = async (): Promise<void> => {
        for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
          await this.sendFile(account, node, dest, file);
          written += 1;
        }
      };
      await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, queue.length) }, send));
    }
    return written;
  }

  async session(account: string, node: string, options: HelperSessionOptions): Promise<HelperSession> {
    if (options.command !== undefined && Buffer.byteLength(options.command) > HELPER_LIMITS.commandBytes) {
      throw new SkyError('VALIDATION_FAILED', `a command for account ${account} is longer than ${HELPER_LIMITS.commandBytes} bytes`);
    }
    const socket = await this.open();
    const id = this.nextId++;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let finished = false;
    const abort = (): void => {
      if (finished) return;
      if (!socket.destroyed) socket.write(encodeHelperFrame({ id: this.nextId++, op: 'abort', target: id }));
    };
    const ended = new Promise<HelperSessionEnd>((resolve, reject) => {
      const done = (): void => {
        finished = true;
        stdout.end();
        stderr.end();
      };
      this.waiting.set(id, {
        op: 'session',
        timer: undefined,
        chunk: (payload, fd) => {
          const out = fd === 2 ? stderr : stdout;
          out.write(payload);
          // A reader that stopped taking output (a stalled client) must not fill the daemon's memory.
          if (out.writableLength > STREAM_BACKLOG_BYTES) abort();
        },
        resolve: (answer) => {
          done();
          const parsed = HelperResultSchemas.session.safeParse(answer.result);
          if (parsed.success) resolve(parsed.data);
          else reject(new SkyError('NODE_RUNTIME_ERROR', 'sky-node-helper answered session with something this daemon cannot read; are both the same sky version?'));
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
    });
    ended.catch(() => undefined);
    const { command, pty, env } = options;
    socket.write(encodeHelperFrame({ id, op: 'session', account, node, ...(command === undefined ? {} : { command }), ...(pty === undefined ? {} : { pty }), ...(env === undefined ? {} : { env }) }));
    const input = async (fields: Omit<Fields<'sessionInput'>, 'target'>, payload?: Uint8Array): Promise<void> => {
      if (finished) return;
      await this.call('sessionInput', { target: id, ...fields }, payload);
    };
    const quietly = (p: Promise<void>): void => void p.catch(() => undefined);
    return {
      stdout,
      stderr,
      ended,
      write: async (data) => {
        const max = HELPER_LIMITS.streamChunkBytes;
        for (let at = 0; at < data.length; at += max) await input({}, data.subarray(at, at + max));
      },
      endInput: () => input({ eof: true }),
      resize: (rows, cols) => quietly(input({ size: { rows, cols } })),
      signal: (name) => quietly(input({ signal: name })),
      abort,
    };
  }

  async signal(account: string, pgid: number, signal: HelperSignal): Promise<boolean> {
    return (await this.call('signal', { account, pgid, signal })).alive;
  }

  /** Close the connection; `final` refuses later calls (the daemon is stopping). */
  async close(final = true): Promise<void> {
    if (final) this.closed = true;
    const socket = this.socket;
    this.socket = undefined;
    this.connecting = undefined;
    if (socket !== undefined && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      });
    }
    this.failAll(new SkyError('NODE_UNREACHABLE', `the connection to sky-node-helper at ${this.socketPath} was closed`));
  }

  // ---- internals -------------------------------------------------------------------------

  private async sendFile(account: string, node: string, dest: string, file: HelperSyncFile): Promise<void> {
    const mode = file.mode & 0o777;
    const mtimeMs = Math.max(0, file.mtimeMs);
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const send = async (last: boolean): Promise<void> => {
      const payload = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await this.call('syncChunk', { account, node, dest, path: file.path, offset, size: file.size, mode, mtimeMs, last }, payload);
      offset += payload.length;
    };
    for await (const chunk of file.open()) {
      let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (offset + pendingBytes + bytes.length > file.size) {
        throw new SkyError('VALIDATION_FAILED', `${file.path} grew past its announced ${file.size} bytes while it was being sent`);
      }
      while (bytes.length > 0) {
        const take = Math.min(SYNC_CHUNK_BYTES - pendingBytes, bytes.length);
        pending.push(bytes.subarray(0, take));
        pendingBytes += take;
        bytes = bytes.subarray(take);
        if (pendingBytes === SYNC_CHUNK_BYTES && offset + pendingBytes < file.size) await send(false);
      }
    }
    if (offset + pendingBytes !== file.size) {
      throw new SkyError('VALIDATION_FAILED', `${file.path} has ${offset + pendingBytes} bytes, not the announced ${file.size}`);
    }
    await send(true);
  }

  private async call<O extends Exclude<HelperOp, 'abort' | 'read'>>(op: O, fields: Fields<O>, payload?: Uint8Array, signal?: AbortSignal, waitMs?: number): Promise<HelperResult<O>> {
    const answer = await this.exchange(op, fields, payload, signal, waitMs);
    const parsed = HelperResultSchemas[op].safeParse(answer.result);
    if (!parsed.success) throw new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper answered ${op} with something this daemon cannot read; are both the same sky version?`);
    return parsed.data as HelperResult<O>;
  }

  private async exchange<O extends Exclude<HelperOp, 'abort'>>(op: O, fields: Fields<O>, payload?: Uint8Array, signal?: AbortSignal, waitMs = this.callTimeoutMs): Promise<{ result: unknown; payload: Buffer }> {
    if (signal?.aborted) throw new SkyError('CANCELLED', `${op} through sky-node-helper was cancelled`);
    const socket = await this.open();
    const id = this.nextId++;
    const frame = encodeHelperFrame({ ...fields, id, op }, payload);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.settle(id, new SkyError('CANCELLED', `${op} through sky-node-helper was cancelled`));
        if (!socket.destroyed) socket.write(encodeHelperFrame({ id: this.nextId++, op: 'abort', target: id }));
      };
      const timer = setTimeout(() => {
        this.settle(id, new SkyError('NODE_UNREACHABLE', `sky-node-helper at ${this.socketPath} did not answer ${op} within ${Math.round(waitMs / 1000)} s`));
        if (!socket.destroyed) socket.write(encodeHelperFrame({ id: this.nextId++, op: 'abort', target: id }));
      }, waitMs);
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(id, {
        op,
        timer,
        resolve: (answer) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(answer);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      });
      socket.write(frame);
    });
  }

  private settle(id: number, err: Error | undefined, answer?: { result: unknown; payload: Buffer }): void {
    const waiting = this.waiting.get(id);
    if (waiting === undefined) return;
    this.waiting.delete(id);
    if (waiting.timer !== undefined) clearTimeout(waiting.timer);
    if (err !== undefined) waiting.reject(err);
    else waiting.resolve(answer ?? { result: undefined, payload: Buffer.alloc(0) });
  }

  private failAll(err: SkyError): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, err);
  }

  private open(): Promise<Socket> {
    if (this.closed) return Promise.reject(new SkyError('NODE_UNREACHABLE', 'the daemon is stopping and makes no more calls to sky-node-helper'));
    if (this.socket !== undefined && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect(this.socketPath);
      const decoder = new HelperFrameDecoder();
      socket.once('connect', () => {
        this.socket = socket;
        this.connecting = undefined;
        resolve(socket);
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const frame of decoder.push(chunk)) this.receive(frame.header, Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength));
        } catch (err) {
          socket.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (this.connecting !== undefined && this.socket !== socket) {
          this.connecting = undefined;
          reject(
            new SkyError('NODE_UNREACHABLE', `cannot reach sky-node-helper at ${this.socketPath}: ${err.code ?? err.message}`, {
              hint: 'Start sky-node-helper as root (see plugins/driver-local/README.md) and check node_helper.socket in the daemon config.',
            }),
          );
        }
      });
      socket.on('close', () => {
        if (this.socket === socket) this.socket = undefined;
        this.failAll(new SkyError('NODE_UNREACHABLE', `the connection to sky-node-helper at ${this.socketPath} closed (the helper stopped or restarted)`));
      });
    });
    return this.connecting;
  }

  private receive(header: unknown, payload: Buffer): void {
    const parsed = HelperResponseSchema.safeParse(header);
    if (!parsed.success) return;
    const answer = parsed.data;
    if (answer.ok && 'chunk' in answer) this.waiting.get(answer.id)?.chunk?.(payload, answer.fd);
    else if (answer.ok) this.settle(answer.id, undefined, { result: answer.result, payload });
    else if (answer.id === 0) this.failAll(new SkyError(answer.error.code, `sky-node-helper: ${answer.error.message}`));
    else {
      const { code, message, hint } = answer.error;
      this.settle(answer.id, new SkyError(code, message, hint === undefined ? {} : { hint }));
    }
  }
}

function bufferFile(path: string, mode: number, bytes: Buffer): HelperSyncFile {
  return {
    path,
    mode,
    mtimeMs: Date.now(),
    size: bytes.length,
    open: () => Readable.from([bytes]),
  };
}
