import { SkyError, isTerminal } from '@sky/protocol';
import type { LogChunk, RequestRecord, RequestStatus } from '@sky/protocol';
import { byIdAscending, byIdDescending, copyRecord, matchesRequestFilter, type RequestFilter, type RequestPageResult } from '@sky/plugin-api';
import type { ActiveState } from './active-state.js';
import { decodeCursor, encodeCursor, idOfIndexKey, logRange, prefixRange } from './keys.js';
import { getMany, type Sublevels } from './layout.js';

const CHUNK = 256;

/** A descending stream of request ids read from one index range, a chunk at a time. */
class IdStream {
  #buffer: string[] = [];
  #at = 0;
  #done = false;

  constructor(
    private readonly nextv: (size: number) => Promise<string[]>,
    readonly close: () => Promise<void>,
  ) {}

  async peek(): Promise<string | undefined> {
    if (this.#at < this.#buffer.length) return this.#buffer[this.#at];
    if (this.#done) return undefined;
    this.#buffer = (await this.nextv(CHUNK)).map(idOfIndexKey);
    this.#at = 0;
    if (this.#buffer.length === 0) this.#done = true;
    return this.#buffer[0];
  }

  skip(): void {
    this.#at += 1;
  }
}

/** Merge descending id streams into one descending stream without repeats. */
async function* mergeDescending(streams: readonly IdStream[]): AsyncGenerator<string> {
  let previous: string | undefined;
  for (;;) {
    let best: IdStream | undefined;
    let bestId: string | undefined;
    for (const stream of streams) {
      const id = await stream.peek();
      if (id !== undefined && (bestId === undefined || id > bestId)) {
        best = stream;
        bestId = id;
      }
    }
    if (best === undefined || bestId === undefined) return;
    best.skip();
    if (bestId !== previous) yield bestId;
    previous = bestId;
  }
}

/** Reads. They never go through the writer: they see committed data only. */
export class Reader {
  constructor(
    private readonly subs: Sublevels,
    private readonly state: ActiveState,
  ) {}

  async get(id: string): Promise<RequestRecord | undefined> {
    const cached = this.state.records.get(id);
    return cached === undefined ? this.subs.requests.get(id) : copyRecord(cached);
  }

  async listByStatus(status: RequestStatus): Promise<RequestRecord[]> {
    if (!isTerminal(status)) {
      return [...this.state.records.values()].filter((r) => r.status === status).sort(byIdAscending).map(copyRecord);
    }
    const ids = (await this.subs.byStatus.keys(prefixRange(status)).all()).map(idOfIndexKey);
    const found = await this.#resolve(ids);
    return found.filter((r) => r.status === status);
  }

  async list(filter: RequestFilter): Promise<RequestPageResult> {
    if (!Number.isInteger(filter.limit) || filter.limit < 1) {
      throw new SkyError('VALIDATION_FAILED', `limit must be a positive integer, got ${filter.limit}`, {
        details: { field: 'limit' },
      });
    }
    const below = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
    const statuses = filter.status !== undefined && filter.status.length > 0 ? filter.status : undefined;
    // One more than the page: whether it exists decides whether there is a next page.
    const want = filter.limit + 1;
    const found =
      statuses !== undefined && statuses.every((s) => !isTerminal(s))
        ? this.#fromActive(filter, below, want)
        : await this.#scan(filter, statuses, below, want);
    const items = found.slice(0, filter.limit);
    const last = items[items.length - 1];
    return found.length > filter.limit && last !== undefined ? { items, nextCursor: encodeCursor(last.id) } : { items };
  }

  async readLog(id: string, afterSeq?: number): Promise<LogChunk[]> {
    const chunks = await this.subs.logs.values(logRange(id, afterSeq)).all();
    return afterSeq === undefined ? chunks : chunks.filter((c) => c.seq > afterSeq);
  }

  #fromActive(filter: RequestFilter, below: string | undefined, want: number): RequestRecord[] {
    return [...this.state.records.values()]
      .filter((r) => (below === undefined || r.id < below) && matchesRequestFilter(r, filter))
      .sort(byIdDescending)
      .slice(0, want)
      .map(copyRecord);
  }

  /** Walk the narrowest index newest first, filtering, until `want` records match. */
  async #scan(filter: RequestFilter, statuses: readonly RequestStatus[] | undefined, below: string | undefined, want: number): Promise<RequestRecord[]> {
    if (filter.user === undefined && statuses === undefined) return this.#scanAll(filter, below, want);
    const streams =
      filter.user !== undefined
        ? [this.#stream(this.subs.byUser, filter.user, below)]
        : (statuses ?? []).map((s) => this.#stream(this.subs.byStatus, s, below));
    const out: RequestRecord[] = [];
    try {
      let ids: string[] = [];
      const flush = async (): Promise<void> => {
        for (const r of await this.#resolve(ids)) if (out.length < want && matchesRequestFilter(r, filter)) out.push(r);
        ids = [];
      };
      for await (const id of mergeDescending(streams)) {
        ids.push(id);
        if (ids.length >= Math.min(CHUNK, want - out.length)) await flush();
        if (out.length >= want) break;
      }
      if (out.length < want) await flush();
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
    return out;
  }

  async #scanAll(filter: RequestFilter, below: string | undefined, want: number): Promise<RequestRecord[]> {
    const iterator = this.subs.requests.values(below === undefined ? { reverse: true } : { lt: below, reverse: true });
    const out: RequestRecord[] = [];
    try {
      while (out.length < want) {
        const chunk = await iterator.nextv(CHUNK);
        if (chunk.length === 0) break;
        for (const r of chunk) if (out.length < want && matchesRequestFilter(r, filter)) out.push(r);
      }
    } finally {
      await iterator.close();
    }
    return out;
  }

  #stream(sub: Sublevels['byUser'] | Sublevels['byStatus'], prefix: string, below: string | undefined): IdStream {
    const iterator = sub.keys({ ...prefixRange(prefix, below), reverse: true });
    return new IdStream(
      (size) => iterator.nextv(size),
      () => iterator.close(),
    );
  }

  /** Records for ids, in the same order, from the active cache or disk; vanished ids dropped. */
  async #resolve(ids: readonly string[]): Promise<RequestRecord[]> {
    // Take the cached versions before awaiting: the writer may evict them meanwhile.
    const cached = ids.map((id) => this.state.records.get(id));
    const missing = ids.filter((_, i) => cached[i] === undefined);
    const fromDisk = missing.length === 0 ? new Map<string, RequestRecord>() : await getMany((k) => this.subs.requests.getMany(k), missing);
    const out: RequestRecord[] = [];
    ids.forEach((id, i) => {
      const hit = cached[i];
      const record = hit === undefined ? fromDisk.get(id) : copyRecord(hit);
      if (record !== undefined) out.push(record);
    });
    return out;
  }
}
