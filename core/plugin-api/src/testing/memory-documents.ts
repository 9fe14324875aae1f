import { copyJson } from '../records.js';
import type { PluginDocumentRepository, StoredDocument } from '../documents.js';

const SEP = '\x00';

/** Plugins' documents in memory (see documents.ts): compare-and-set on each one's revision. */
export class MemoryDocumentRepository implements PluginDocumentRepository {
  private readonly docs = new Map<string, { plugin: string; name: string } & StoredDocument>();

  constructor(private readonly assertOpen: () => void) {}

  async get(plugin: string, name: string): Promise<StoredDocument | undefined> {
    this.assertOpen();
    const found = this.docs.get(plugin + SEP + name);
    return found === undefined ? undefined : { value: copyJson(found.value), revision: found.revision };
  }

  async put(plugin: string, name: string, value: unknown, expected: number): Promise<number | undefined> {
    this.assertOpen();
    const key = plugin + SEP + name;
    const revision = this.docs.get(key)?.revision ?? 0;
    if (revision !== expected) return undefined;
    this.docs.set(key, { plugin, name, value: copyJson(value), revision: revision + 1 });
    return revision + 1;
  }

  async list(): Promise<Array<{ plugin: string; name: string } & StoredDocument>> {
    this.assertOpen();
    return this.raw();
  }

  /** Every document, copied, in (plugin, name) order. */
  raw(): Array<{ plugin: string; name: string } & StoredDocument> {
    return [...this.docs.keys()].sort().map((key) => {
      const doc = this.docs.get(key)!;
      return { plugin: doc.plugin, name: doc.name, value: copyJson(doc.value), revision: doc.revision };
    });
  }

  putRaw(plugin: string, name: string, value: unknown, revision: number): void {
    this.docs.set(plugin + SEP + name, { plugin, name, value: copyJson(value), revision });
  }

  get size(): number {
    return this.docs.size;
  }
}
