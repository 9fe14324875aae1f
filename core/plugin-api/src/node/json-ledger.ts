import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkyError } from '@sky/protocol/wire';

/** The file names a ledger uses by default, inside its directory. */
export const JSON_LEDGER_FILE = 'ledger.json';
export const JSON_LEDGER_LOCK_FILE = 'ledger.lock';

export interface JsonLedgerOptions<T> {
  /** The directory holding the document and its lock file. */
  dir: string;
  /** Who owns the ledger, leading every error message (e.g. `local driver`). */
  owner: string;
  /** The document when its file does not exist yet. */
  empty: () => T;
  /**
   * The document from its parsed JSON, or undefined when the format is unknown (the read then
   * fails with DRIVER_FAILED). May fill in fields older versions did not write.
   */
  parse: (data: unknown) => T | undefined;
  /** Default `ledger.json`. */
  file?: string;
  /** Default `ledger.lock`. */
  lockFile?: string;
  /** How long to wait for another process's lock before giving up. Default 15 s. */
  lockTimeoutMs?: number;
  /** A lock file older than this whose holder cannot be checked is taken as abandoned. Default 60 s. */
  staleMs?: number;
  /** Create `dir` (mode 0700) before taking the lock. Default false. */
  createDir?: boolean;
  /** The hint when the file is not valid JSON. */
  invalidJsonHint?: string;
  /** The hint when `parse` refuses the document. */
  unknownFormatHint?: string;
}

interface PendingChange<T> {
  signal: AbortSignal;
  change: (data: T) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Aborted once every one of the signals is (the lock is waited for while anyone still wants it). */
function whenAllAborted(signals: readonly AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  const check = (): void => {
    if (signals.every((s) => s.aborted)) controller.abort(signals[0]?.reason);
  };
  for (const s of signals) s.addEventListener('abort', check, { once: true });
  check();
  return controller.signal;
}

/** The file's text for a document (what write stores, and what a turn compares against). */
function render(data: unknown): string {
  return `${JSON.stringify(data, null, 2)}\n`;
}

/** Freeze a parsed JSON document all the way down (a reader that changes it fails loudly instead of corrupting the shared copy). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value as object)) deepFreeze(item);
  }
  return value;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A JSON document in one file, for plugins that keep state several processes share (what a
 * driver has handed out, say): replaced atomically (write a temporary file, fsync, rename) and
 * changed only under a lock file created with O_EXCL, so two processes sharing the directory
 * never act on the same state at once. A lock whose holder died (same host, pid gone) or that is
 * older than `staleMs` is broken.
 */
export class JsonLedger<T> {
  readonly dir: string;
  readonly path: string;
  readonly lockPath: string;
  private readonly options: JsonLedgerOptions<T>;
  private readonly lockTimeoutMs: number;
  private readonly staleMs: number;

  constructor(options: JsonLedgerOptions<T>) {
    this.options = options;
    this.dir = options.dir;
    this.path = join(options.dir, options.file ?? JSON_LEDGER_FILE);
    this.lockPath = join(options.dir, options.lockFile ?? JSON_LEDGER_LOCK_FILE);
    this.lockTimeoutMs = options.lockTimeoutMs ?? 15_000;
    this.staleMs = options.staleMs ?? 60_000;
  }

  /** The last document read, by the file's identity (a write replaces the file, so a new inode). */
  private cached: { key: string; doc: T } | undefined;
  private reading: Promise<T> | undefined;

  /**
   * The current document, read-only (frozen: change it with update). Needs no lock: the file is
   * only ever replaced whole. Reads made at once share one read, and the document is parsed again
   * only when the file changed, so a driver asked about hundreds of clusters at once holds one
   * copy of it, not hundreds.
   */
  read(): Promise<T> {
    this.reading ??= this.load().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async load(): Promise<T> {
    const { owner } = this.options;
    const info = await stat(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw new SkyError('DRIVER_FAILED', `${owner}: cannot read its ledger ${this.path}: ${error.message}`, { cause: error });
    });
    if (info === undefined) return deepFreeze(this.options.empty());
    const key = `${info.ino}:${info.size}:${info.mtimeMs}`;
    if (this.cached?.key === key) return this.cached.doc;
    const doc = deepFreeze(await this.parseFile());
    this.cached = { key, doc };
    return doc;
  }

  private async parseFile(): Promise<T> {
    const text = await this.fileText();
    return text === undefined ? this.options.empty() : this.parseText(text);
  }

  /** The file's text, or undefined when there is none yet. */
  private async fileText(): Promise<string | undefined> {
    const { owner } = this.options;
    try {
      return await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SkyError('DRIVER_FAILED', `${owner}: cannot read its ledger ${this.path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The document in `text`, checked by the owner's parse (DRIVER_FAILED for bad JSON or an unknown format). */
  private parseText(text: string): T {
    const { owner } = this.options;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new SkyError('DRIVER_FAILED', `${owner}: its ledger ${this.path} is not valid JSON (${(error as Error).message})`, {
        ...(this.options.invalidJsonHint === undefined ? {} : { hint: this.options.invalidJsonHint }),
        cause: error,
      });
    }
    const parsed = this.options.parse(data);
    if (parsed === undefined) {
      throw new SkyError(
        'DRIVER_FAILED',
        `${owner}: its ledger ${this.path} has an unknown format`,
        this.options.unknownFormatHint === undefined ? {} : { hint: this.options.unknownFormatHint },
      );
    }
    return parsed;
  }

  /** Changes waiting for this process's next turn at the lock, applied together in one write. */
  private readonly waiting: Array<PendingChange<T>> = [];
  private draining = false;

  /**
   * Run `change` on the current document under the lock and save what it leaves, unless it throws
   * (then nothing of it is saved). Returns what `change` returns. Changes made in this process
   * while another holds the lock wait in line and are then applied in arrival order, each on what
   * the one before left, and saved with one write: many clusters launched or torn down at once
   * cost one lock and one fsync per turn, not one each.
   */
  update<R>(signal: AbortSignal, change: (data: T) => R | Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ signal, change, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0).filter((p) => {
          if (!p.signal.aborted) return true;
          p.reject(new SkyError('CANCELLED', `${this.options.owner}: cancelled while waiting for the ledger lock`, { cause: p.signal.reason }));
          return false;
        });
        if (batch.length > 0) await this.apply(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  private async apply(batch: Array<PendingChange<T>>): Promise<void> {
    let release: (() => Promise<void>) | undefined;
    const settled: Array<() => void> = [];
    let failed = false;
    let failure: unknown;
    try {
      if (this.options.createDir === true) await mkdir(this.dir, { recursive: true, mode: 0o700 });
      release = await this.lock(whenAllAborted(batch.map((p) => p.signal)));
      // The file's own text is the turn's starting point: parsed once into the copy the changes
      // work on, and compared with what they leave, serialised once, to know whether to write.
      const text = await this.fileText();
      const original = text ?? render(this.options.empty());
      const fresh = (): T => (text === undefined ? this.options.empty() : this.parseText(text));
      // A change that throws is left out: the copy is made again from the turn's start and the
      // changes that succeeded are applied again, in order.
      let data = fresh();
      let good: Array<PendingChange<T>> = [];
      const results = new Map<PendingChange<T>, { ok: true; value: unknown } | { ok: false; error: unknown }>();
      for (const pending of batch) {
        try {
          results.set(pending, { ok: true, value: await pending.change(data) });
          good.push(pending);
        } catch (error) {
          results.set(pending, { ok: false, error });
          ({ data, good } = await this.replay(fresh, good, results));
        }
      }
      for (const pending of batch) {
        const outcome = results.get(pending)!;
        settled.push(outcome.ok ? () => pending.resolve(outcome.value) : () => pending.reject(outcome.error));
      }
      const after = render(data);
      if (after !== original) await this.write(after);
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      // Callers hear back once the lock is free again.
      await release?.();
    }
    if (failed) for (const pending of batch) pending.reject(failure);
    else for (const settle of settled) settle();
  }

  /** The document of the turn's start with `good` applied again (a change that now throws is dropped too). */
  private async replay(
    fresh: () => T,
    good: Array<PendingChange<T>>,
    results: Map<PendingChange<T>, { ok: true; value: unknown } | { ok: false; error: unknown }>,
  ): Promise<{ data: T; good: Array<PendingChange<T>> }> {
    for (;;) {
      const data = fresh();
      const kept: Array<PendingChange<T>> = [];
      let failed = false;
      for (const pending of good) {
        try {
          results.set(pending, { ok: true, value: await pending.change(data) });
          kept.push(pending);
        } catch (error) {
          results.set(pending, { ok: false, error });
          failed = true;
          break;
        }
      }
      if (!failed) return { data, good: kept };
      good = good.filter((p) => results.get(p)?.ok === true);
    }
  }

  private async write(text: string): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  private async lock(signal: AbortSignal): Promise<() => Promise<void>> {
    const { owner } = this.options;
    const token = `${process.pid} ${hostname()} ${randomBytes(6).toString('hex')}`;
    const deadline = Date.now() + this.lockTimeoutMs;
    let wait = 2;
    for (;;) {
      if (signal.aborted) throw new SkyError('CANCELLED', `${owner}: cancelled while waiting for the ledger lock`, { cause: signal.reason });
      try {
        const file = await open(this.lockPath, 'wx', 0o600);
        try {
          await file.writeFile(token);
        } finally {
          await file.close();
        }
        return async () => {
          // Remove the lock only if it is still ours (it may have been broken as stale).
          const now = await readFile(this.lockPath, 'utf8').catch(() => undefined);
          if (now === token) await unlink(this.lockPath).catch(() => undefined);
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new SkyError('DRIVER_FAILED', `${owner}: cannot create the lock ${this.lockPath}: ${(error as Error).message}`, {
            hint: `Make ${this.dir} writable by the user the daemon runs as.`,
            cause: error,
          });
        }
      }
      const holder = await this.holder();
      if (holder === undefined) continue; // released in between: try again at once
      if (holder.stale && (await this.breakStale(holder.content))) continue;
      if (Date.now() > deadline) {
        throw new SkyError(
          'DRIVER_FAILED',
          `${owner}: the ledger ${this.path} stayed locked for ${this.lockTimeoutMs / 1000}s${Number.isInteger(holder.pid) ? ` by pid ${holder.pid}` : ''}`,
          { hint: `If no sky process is using ${this.dir}, remove ${this.lockPath}.` },
        );
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 50);
    }
  }

  private async holder(): Promise<{ content: string; pid: number; stale: boolean } | undefined> {
    let content: string;
    let age: number;
    try {
      content = await readFile(this.lockPath, 'utf8');
      age = Date.now() - (await stat(this.lockPath)).mtimeMs;
    } catch {
      return undefined; // released in between
    }
    const [pidText, host] = content.split(' ');
    const pid = Number(pidText);
    const dead = host === hostname() && Number.isInteger(pid) && pid > 0 && !isAlive(pid);
    // An empty file is a lock being written right now, unless it has been empty for long.
    return { content, pid, stale: dead || age > this.staleMs };
  }

  /**
   * Remove an abandoned lock. Only the process that wins a second O_EXCL file may do it, and only
   * while the lock still holds what was judged stale, so two processes breaking the same lock
   * cannot remove a fresh one.
   */
  private async breakStale(content: string): Promise<boolean> {
    const breaker = `${this.lockPath}.break`;
    let file;
    try {
      file = await open(breaker, 'wx', 0o600);
    } catch {
      const age = await stat(breaker).then((s) => Date.now() - s.mtimeMs).catch(() => 0);
      if (age > 10_000) await unlink(breaker).catch(() => undefined);
      return false;
    }
    try {
      const now = await readFile(this.lockPath, 'utf8').catch(() => undefined);
      if (now !== content) return now === undefined;
      await unlink(this.lockPath);
      return true;
    } catch {
      return false;
    } finally {
      await file.close();
      await unlink(breaker).catch(() => undefined);
    }
  }
}
