import { join } from 'node:path';
import { nodeScriptPath, parseStatusOutput, statusCommand, type JobState } from '@sky/runtime';
import { SkyError } from '@sky/protocol';
import type { LocalTransport } from './local-transport.js';

interface Waiter {
  transport: LocalTransport;
  dirs: string[];
  resolve: (states: JobState[]) => void;
  reject: (err: unknown) => void;
}

interface Pending {
  waiters: Waiter[];
}

/** At most this many rank directories per command (well under the kernel's argument limit). */
const MAX_DIRS = 1000;

/**
 * Status reads of ranks on local nodes. Every local node is a directory of this machine, so the
 * reads asked for in one turn of the event loop (the safety-net pass asks for every running
 * job's ranks at once: one node per cluster, hundreds of clusters) are answered by one
 * `sky-node.sh status` over all their directories, not by a process per node. Reads are grouped
 * by runtime version and by the umask the node's commands run with.
 */
export class LocalStatusBatch {
  private readonly pending = new Map<string, Pending>();

  read(transport: LocalTransport, version: number, dirs: readonly string[]): Promise<JobState[]> {
    const key = `${version}/${transport.umask ?? '-'}`;
    return new Promise((resolve, reject) => {
      let batch = this.pending.get(key);
      if (batch === undefined) {
        batch = { waiters: [] };
        this.pending.set(key, batch);
        setImmediate(() => {
          this.pending.delete(key);
          void this.flush(version, batch!);
        });
      }
      batch.waiters.push({ transport, dirs: dirs.map((d) => join(transport.root, d)), resolve, reject });
    });
  }

  private async flush(version: number, batch: Pending): Promise<void> {
    let chunk: Waiter[] = [];
    let count = 0;
    const chunks: Waiter[][] = [];
    for (const waiter of batch.waiters) {
      if (count + waiter.dirs.length > MAX_DIRS && chunk.length > 0) {
        chunks.push(chunk);
        chunk = [];
        count = 0;
      }
      chunk.push(waiter);
      count += waiter.dirs.length;
    }
    if (chunk.length > 0) chunks.push(chunk);
    for (const waiters of chunks) {
      try {
        const states = await this.run(version, waiters[0]!.transport, waiters.flatMap((w) => w.dirs));
        let at = 0;
        for (const waiter of waiters) {
          waiter.resolve(states.slice(at, at + waiter.dirs.length));
          at += waiter.dirs.length;
        }
      } catch (err) {
        if (waiters.length === 1) waiters[0]!.reject(err);
        // One node whose directory is gone (a lost node) must not fail the others: each on its own.
        else for (const w of waiters) this.run(version, w.transport, w.dirs).then(w.resolve, w.reject);
      }
    }
  }

  /** One status command on `transport`'s node (its runtime script, its root as cwd) over `dirs`. */
  private async run(version: number, transport: LocalTransport, dirs: readonly string[]): Promise<JobState[]> {
    const out = await transport.run(statusCommand(dirs, { script: nodeScriptPath(version) }));
    if (out.code !== 0) {
      const detail = (out.stderr || out.stdout).trim().split('\n').slice(-5).join(' | ');
      throw new SkyError('NODE_RUNTIME_ERROR', `reading job status on local node ${transport.root} failed (exit ${out.code})${detail ? `: ${detail}` : ''}`);
    }
    return parseStatusOutput(out.stdout, dirs.length);
  }
}
