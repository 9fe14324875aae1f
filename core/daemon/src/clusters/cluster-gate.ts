import { injectable } from 'tsyringe';

type Mode = 'shared' | 'exclusive';

interface Waiter {
  mode: Mode;
  admit: () => void;
}

interface Gate {
  /** Holders now: any number of shared ones, or one exclusive one. */
  holders: number;
  mode: Mode | undefined;
  /** Waiting in arrival order; the first is admitted as soon as it is compatible. */
  waiting: Waiter[];
}

/**
 * The per-cluster order of the operations that change a cluster or its queue, inside this
 * daemon. Submitting and cancelling jobs (exec, cancel) hold a cluster shared, so
 * any number of them proceed together and their store writes share group commits; changing
 * the cluster itself (launch, start, stop, down) holds it exclusive, so no job is queued on a
 * cluster while it is being stopped or torn down. Waiters are admitted in arrival order: a
 * stream of execs cannot starve a waiting down, and execs that arrive after it wait for it.
 * Contention therefore only ever makes a request wait, never fail.
 */
@injectable()
export class ClusterGate {
  private readonly gates = new Map<string, Gate>();

  /** Run `work` holding the cluster shared; a waiter whose `signal` fires leaves the queue and rejects with its reason. */
  shared<T>(cluster: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.hold(cluster, 'shared', work, signal);
  }

  /** Run `work` holding the cluster alone; a waiter whose `signal` fires leaves the queue and rejects with its reason. */
  exclusive<T>(cluster: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.hold(cluster, 'exclusive', work, signal);
  }

  /** Whether anything holds or waits for the cluster (for tests and diagnostics). */
  busy(cluster: string): boolean {
    return this.gates.has(cluster);
  }

  private async hold<T>(cluster: string, mode: Mode, work: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    signal?.throwIfAborted();
    let gate = this.gates.get(cluster);
    if (gate === undefined) {
      gate = { holders: 0, mode: undefined, waiting: [] };
      this.gates.set(cluster, gate);
    }
    if (gate.waiting.length > 0 || !compatible(gate, mode)) await this.wait(cluster, gate, mode, signal);
    else {
      gate.holders += 1;
      gate.mode = mode;
    }
    try {
      return await work();
    } finally {
      gate.holders -= 1;
      if (gate.holders === 0) gate.mode = undefined;
      this.admit(cluster, gate);
    }
  }

  private wait(cluster: string, gate: Gate, mode: Mode, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = gate.waiting.indexOf(waiter);
        if (at < 0) return; // admitted already
        gate.waiting.splice(at, 1);
        // Those behind it may be compatible with the holders now (an exclusive waiter left).
        this.admit(cluster, gate);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        mode,
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      gate.waiting.push(waiter);
    });
  }

  /** Admit waiters from the front while they are compatible with the holders; forget an idle gate. */
  private admit(cluster: string, gate: Gate): void {
    while (gate.waiting.length > 0 && compatible(gate, gate.waiting[0]!.mode)) {
      const next = gate.waiting.shift()!;
      gate.holders += 1;
      gate.mode = next.mode;
      next.admit();
    }
    if (gate.holders === 0 && gate.waiting.length === 0 && this.gates.get(cluster) === gate) this.gates.delete(cluster);
  }
}

function compatible(gate: Gate, mode: Mode): boolean {
  return gate.holders === 0 || (mode === 'shared' && gate.mode === 'shared');
}
