import { setTimeout as sleep } from 'node:timers/promises';
import {
  DOCUMENT_NAME_PATTERN,
  type PluginDocument,
  type PluginDocumentOptions,
  type PluginDocumentRepository,
  type PluginDocuments,
} from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import type { SecretCipher } from '../secrets/secret-box.js';
import { openDocument, sealDocument } from './sealed-documents.js';

/** Pause before running a change again after another writer saved first: doubling from 2 ms, capped. */
function backoffMs(attempt: number): number {
  return Math.min(200, 2 ** Math.min(attempt + 1, 8)) * (0.5 + Math.random() / 2);
}

/** One plugin's documents in the state store (PluginContext.documents, plugin API 1.8). */
export class StoreDocuments implements PluginDocuments {
  constructor(
    private readonly repository: PluginDocumentRepository,
    private readonly plugin: string,
    /** Seals documents opened with `secret: true`; without one they are refused. */
    private readonly cipher?: SecretCipher,
  ) {}

  open<T>(name: string, options: PluginDocumentOptions<T>): PluginDocument<T> {
    if (!DOCUMENT_NAME_PATTERN.test(name)) {
      throw new SkyError('VALIDATION_FAILED', `drivers.${this.plugin}: "${name.slice(0, 80)}" is not a document name`, {
        hint: 'A document name is 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit.',
      });
    }
    if (options.secret === true && this.cipher === undefined) {
      throw new SkyError('INTERNAL', `drivers.${this.plugin}: document "${name}" holds secrets, and these documents have no secrets key to seal them with`);
    }
    return new StoreDocument(this.repository, this.plugin, name, options, options.secret === true ? this.cipher : undefined);
  }
}

class StoreDocument<T> implements PluginDocument<T> {
  constructor(
    private readonly repository: PluginDocumentRepository,
    private readonly plugin: string,
    private readonly name: string,
    private readonly options: PluginDocumentOptions<T>,
    private readonly cipher: SecretCipher | undefined,
  ) {}

  async read(): Promise<T> {
    const stored = await this.repository.get(this.plugin, this.name);
    return stored === undefined ? this.options.empty() : this.parse(stored.value);
  }

  private stored(data: T): unknown {
    return this.cipher === undefined ? data : sealDocument(this.cipher, this.plugin, this.name, data);
  }

  async update<R>(signal: AbortSignal, change: (data: T) => R | Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw new SkyError('CANCELLED', `drivers.${this.plugin}: cancelled while changing its document "${this.name}"`, { cause: signal.reason });
      const stored = await this.repository.get(this.plugin, this.name);
      const data = stored === undefined ? this.options.empty() : this.parse(stored.value);
      const result = await change(data);
      if ((await this.repository.put(this.plugin, this.name, this.stored(data), stored?.revision ?? 0)) !== undefined) return result;
      // Another replica saved first: run the change again on what it saved.
      await sleep(backoffMs(attempt), undefined, { signal }).catch(() => undefined);
    }
  }

  private parse(value: unknown): T {
    const parsed = this.options.parse(this.cipher === undefined ? value : openDocument(this.cipher, this.plugin, this.name, value));
    if (parsed !== undefined) return parsed;
    throw new SkyError('DRIVER_FAILED', `drivers.${this.plugin}: its document "${this.name}" in the state store is not in a form this version of the plugin knows`, {
      hint: this.options.unknownFormatHint ?? 'Use the version of the plugin that wrote it.',
      details: { plugin: this.plugin, document: this.name },
    });
  }
}
