import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SkyError } from '@sky/protocol';
import type { Account } from './accounts.js';
import type { WorkerCall, WorkerReply } from './worker.js';

/** Calls a worker may take before it is taken as hung and killed. */
const CALL_TIMEOUT_MS = 120_000;
const STDERR_KEEP = 4096;

/** The worker's compiled source: next to this module in dist, or in dist when this runs from src (tests through tsx). */
function workerSource(): string {
  const candidates = [new URL('./worker.js', import.meta.url), new URL('../../dist/helper/worker.js', import.meta.url)];
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return readFileSync(path, 'utf8');
  }
  throw new SkyError('INTERNAL', 'sky-node-helper: the file worker (dist/helper/worker.js) is missing; build @sky/runtime');
}

/** The environment of everything started as an account: nothing inherited from root. */
export function accountEnv(account: Account, home: string, path: string): Record<string, string> {
  return { HOME: home, USER: account.name, LOGNAME: account.name, PATH: path };
}

type CallInput = WorkerCall extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One account's worker process and the calls waiting on it. */
class Worker {
  readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idle: NodeJS.Timeout | undefined;
  private stderr = '';
  exited = false;

  constructor(
    readonly account: Account,
    source: string,
    env: Record<string, string>,
    private readonly idleMs: number,
    onExit: () => void,
  ) {
    this.child = spawn(process.execPath, ['--input-type=module', '-'], {
      cwd: '/',
      uid: account.uid,
      gid: account.gid,
      env: { ...env, SKY_NODE_WORKER: '1' },
      stdio: ['pipe', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.child.stdin!.on('error', () => undefined);
    this.child.stdin!.end(source);
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP);
    });
    this.child.on('message', (message: unknown) => this.answer(message));
    this.child.on('error', (err) => this.fail(err.message));
    this.child.on('exit', (code, signal) => {
      this.fail(`exited (${signal ?? `code ${code}`})${this.stderr.trim() ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
      onExit();
    });
    this.armIdle();
  }

  call(input: CallInput): Promise<WorkerReply> {
    if (this.exited) return Promise.reject(this.error('is not running'));
    const id = this.nextId++;
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.error(`did not answer ${input.op} within ${CALL_TIMEOUT_MS / 1000} s and was stopped`));
        this.child.kill('SIGKILL');
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ ...input, id }, (err) => {
        if (err) this.settle(id, undefined, this.error(`could not be sent ${input.op}: ${err.message}`));
      });
    });
  }

  stop(): void {
    if (!this.exited) this.child.kill('SIGTERM');
  }

  private error(what: string): SkyError {
    return new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: the file worker of account ${this.account.name} ${what}`);
  }

  private answer(message: unknown): void {
    const reply = message as Partial<WorkerReply> | null;
    if (typeof reply !== 'object' || reply === null || typeof reply.id !== 'number') return;
    this.settle(reply.id, reply as WorkerReply);
  }

  private settle(id: number, reply: WorkerReply | undefined, err?: Error): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (err !== undefined || reply === undefined) entry.reject(err ?? this.error('gave no answer'));
    else entry.resolve(reply);
    if (this.pending.size === 0) this.armIdle();
  }

  private fail(why: string): void {
    this.exited = true;
    if (this.idle) clearTimeout(this.idle);
    for (const id of [...this.pending.keys()]) this.settle(id, undefined, this.error(why));
  }

  private armIdle(): void {
    if (this.exited) return;
    this.idle = setTimeout(() => this.stop(), this.idleMs);
    this.idle.unref();
  }
}

/**
 * One file worker per account, started on first use with the account's uid and gid and a clean
 * environment, and stopped after `idleMs` without calls; a worker that dies is started again by
 * the next call.
 */
export class WorkerPool {
  private readonly workers = new Map<string, Worker>();
  private source: string | undefined;

  constructor(
    private readonly options: { idleMs: number; jobPath: string; homeOf: (account: Account) => string },
  ) {}

  async call(account: Account, input: CallInput): Promise<WorkerReply> {
    return this.worker(account).call(input);
  }

  private worker(account: Account): Worker {
    const existing = this.workers.get(account.name);
    if (existing !== undefined && !existing.exited && existing.account.uid === account.uid && existing.account.gid === account.gid) return existing;
    existing?.stop();
    this.source ??= workerSource();
    const worker: Worker = new Worker(account, this.source, accountEnv(account, this.options.homeOf(account), this.options.jobPath), this.options.idleMs, () => {
      if (this.workers.get(account.name) === worker) this.workers.delete(account.name);
    });
    this.workers.set(account.name, worker);
    return worker;
  }

  /** Worker processes running now (for the log and tests). */
  get running(): number {
    return this.workers.size;
  }

  stopAll(): void {
    for (const worker of this.workers.values()) worker.stop();
    this.workers.clear();
  }
}
