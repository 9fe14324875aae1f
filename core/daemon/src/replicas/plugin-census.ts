import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { PluginDocument, StateStore } from '@sky/plugin-api';
import type { PluginState } from '@sky/protocol';
import { TOKENS, type PluginRegistry } from '../tokens.js';
import { StoreDocuments } from '../plugins/store-documents.js';
import { ReplicaLease } from './replica-lease.js';

/** The documents' owner for what the daemon itself keeps (no driver id can be this: ids are config keys of letters, digits, - and _). */
const DAEMON_DOCUMENTS = '@daemon';

interface CensusEntry {
  at: number;
  /** Each plugin id with what was loaded under it: `package@version state`. */
  plugins: Record<string, string>;
}

interface Census {
  replicas: Record<string, CensusEntry>;
}

function parse(value: unknown): Census | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const replicas = (value as { replicas?: unknown }).replicas;
  return typeof replicas === 'object' && replicas !== null ? { replicas: replicas as Record<string, CensusEntry> } : undefined;
}

function describe(state: PluginState): string {
  return `${state.package}${state.version === undefined ? '' : `@${state.version}`} ${state.state}`;
}

/** How long an answer of differences() is reused. */
const CACHE_MS = 5000;

/**
 * Which plugins each replica of a shared store loaded: every replica records its set (id,
 * package, version, state) in a document of the store when it starts, and compares it with the
 * sets of the other live replicas. Replicas behind one load balancer must run the same plugins
 * (a request may run on any of them); a difference is logged at start and shown by
 * `GET /api/v1/plugins` (and `sky plugins list`). Nothing happens on a store one daemon has to itself.
 */
@injectable()
export class PluginCensus {
  private readonly document: PluginDocument<Census> | undefined;
  private cached: { at: number; differences: string[] } | undefined;

  constructor(
    @inject(TOKENS.Store) store: StateStore,
    @inject(TOKENS.ReplicaId) private readonly replica: string,
    @inject(TOKENS.Plugins) private readonly plugins: PluginRegistry,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(ReplicaLease) private readonly lease: ReplicaLease,
  ) {
    const repository = store.pluginDocuments;
    this.document =
      repository === undefined || !this.lease.shared
        ? undefined
        : new StoreDocuments(repository, DAEMON_DOCUMENTS).open('plugins', { empty: () => ({ replicas: {} }), parse });
  }

  private mine(): Record<string, string> {
    return Object.fromEntries(this.plugins.states().map((state) => [state.id, describe(state)]));
  }

  /** Record this replica's plugins (dropping replicas no longer alive) and log how they differ from the others'. */
  async publish(): Promise<void> {
    const document = this.document;
    if (document === undefined) return;
    const plugins = this.mine();
    const others = Object.keys((await document.read()).replicas).filter((id) => id !== this.replica);
    const live = new Set<string>();
    for (const id of others) if (await this.lease.isLive(id)) live.add(id);
    await document.update(new AbortController().signal, (census) => {
      for (const id of Object.keys(census.replicas)) if (id !== this.replica && !live.has(id)) delete census.replicas[id];
      census.replicas[this.replica] = { at: Date.now(), plugins };
    });
    this.cached = undefined;
    const differences = await this.differences();
    if (differences.length > 0) {
      this.logger.warn({ differences }, 'this replica loads other plugins than other replicas of the shared store; install the same plugins and versions everywhere');
    }
  }

  /** How this replica's plugins differ from each other live replica's, one line per difference (none on a store of its own). */
  async differences(): Promise<string[]> {
    const document = this.document;
    if (document === undefined) return [];
    if (this.cached !== undefined && Date.now() - this.cached.at < CACHE_MS) return this.cached.differences;
    const census = await document.read();
    const mine = this.mine();
    const out: string[] = [];
    for (const [id, entry] of Object.entries(census.replicas).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (id === this.replica || !(await this.lease.isLive(id))) continue;
      const theirs = entry.plugins;
      for (const [plugin, what] of Object.entries(mine)) {
        const other = theirs[plugin];
        if (other === undefined) out.push(`replica ${id} has no plugin ${plugin} (this replica: ${plugin} ${what})`);
        else if (other !== what) out.push(`replica ${id} runs ${plugin} ${other}, this replica ${plugin} ${what}`);
      }
      for (const [plugin, what] of Object.entries(theirs)) if (mine[plugin] === undefined) out.push(`replica ${id} has ${plugin} ${what}, this replica has no plugin ${plugin}`);
    }
    this.cached = { at: Date.now(), differences: out };
    return out;
  }
}
