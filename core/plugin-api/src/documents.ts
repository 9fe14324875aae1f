/**
 * Plugin documents (plugin API 1.8): small JSON documents a plugin keeps in the daemon's state
 * store instead of its data directory, so that every replica of a daemon on a shared store
 * sees the same one (the SSH driver's ledger of which cluster holds which host, say). A
 * document is read whole and changed by compare-and-set on its revision: a change that lost to
 * another writer runs again on the newer document, so a change must only look at its argument
 * (no I/O inside it: probe first, then record).
 */

/** A document as the store keeps it. */
export interface StoredDocument {
  value: unknown;
  /** 1 for the first write, one more for each later one. */
  revision: number;
}

/** The store's side (optional on StateStore: stores shared by several replicas implement it). */
export interface PluginDocumentRepository {
  get(plugin: string, name: string): Promise<StoredDocument | undefined>;
  /**
   * Write `value` when the stored revision is `expected` (0: the document does not exist yet);
   * returns the new revision, or undefined when another write came first.
   */
  put(plugin: string, name: string, value: unknown, expected: number): Promise<number | undefined>;
  /** Every document of every plugin, in (plugin, name) order (for exports). */
  list(): Promise<Array<{ plugin: string; name: string } & StoredDocument>>;
}

/** How a plugin reads its document: its empty form, and how to check what was stored. */
export interface PluginDocumentOptions<T> {
  /** The document before anything was written. */
  empty: () => T;
  /** The stored value checked and typed; undefined when it is not a form this plugin knows. */
  parse: (data: unknown) => T | undefined;
  /** Said when the stored value does not parse (which version of the plugin wrote it, what to do). */
  unknownFormatHint?: string;
  /**
   * The document holds secrets (private keys): the daemon seals it with its secrets key before it
   * is stored (and in exports), and opens it when read.
   */
  secret?: boolean;
}

/** One document, as a plugin uses it. */
export interface PluginDocument<T> {
  /** The document now. */
  read(): Promise<T>;
  /**
   * Run `change` on the current document and save what it leaves, unless it throws (then
   * nothing is saved); returns what `change` returns. Runs `change` again on the newer document
   * when another writer saved first, until `signal` aborts.
   */
  update<R>(signal: AbortSignal, change: (data: T) => R | Promise<R>): Promise<R>;
}

/** What the daemon gives a plugin (PluginContext.documents) when its store keeps documents. */
export interface PluginDocuments {
  open<T>(name: string, options: PluginDocumentOptions<T>): PluginDocument<T>;
}

/** Document names: what a key in any store can hold. */
export const DOCUMENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
