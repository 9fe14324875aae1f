import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SkyError } from '@sky/protocol';
import { STATE_ITEM_ORDER, type StateItem, type StateItemType } from './state-transfer.js';

/** The first line of a state file names what it is. */
export const STATE_FILE_FORMAT = 'sky-state';
/** The newest state file version this package writes and reads. */
export const STATE_FILE_VERSION = 1;

/**
 * A state file (`sky api export`): JSON lines, optionally gzip-compressed. Line 1 is this
 * header; then one StateItem per line in STATE_ITEM_ORDER; the last line is the trailer
 * `{"type":"end","items":N}`, so a truncated file is told from a whole one.
 */
export interface StateFileHeader {
  format: typeof STATE_FILE_FORMAT;
  version: number;
  /** When the export was taken, ms since the epoch. */
  exportedAt: number;
  /** The kind of store it was read from (level, postgres, memory, ...). */
  storeKind: string;
  /** That store's schema version. */
  schemaVersion: number;
}

/** The lines of a state file (each ending in a newline): header, items, trailer. */
export async function* encodeStateFile(header: Omit<StateFileHeader, 'format' | 'version'>, items: AsyncIterable<StateItem>): AsyncGenerator<string> {
  const full: StateFileHeader = { format: STATE_FILE_FORMAT, version: STATE_FILE_VERSION, ...header };
  yield JSON.stringify(full) + '\n';
  let count = 0;
  for await (const item of items) {
    count += 1;
    yield JSON.stringify(item) + '\n';
  }
  yield JSON.stringify({ type: 'end', items: count }) + '\n';
}

function invalid(where: string, message: string, hint = 'Use a file written by `sky api export`, whole and unchanged (gzip-compressed or not).'): SkyError {
  return new SkyError('STATE_FILE_INVALID', `${where}: ${message}`, { hint, details: { field: 'file' } });
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (v: unknown): boolean => typeof v === 'string' && v !== '';
const isInt = (v: unknown): boolean => Number.isSafeInteger(v);

/** The fields each item's record must have (a light check: the stores own their records' shape). */
const RECORD_KEYS: Partial<Record<StateItemType, ReadonlyArray<[string, (v: unknown) => boolean]>>> = {
  user: [['id', isString], ['name', isString]],
  token: [['id', isString], ['userId', isString], ['hash', isString]],
  session: [['id', isString], ['userId', isString], ['hash', isString]],
  workspace: [['name', isString]],
  request: [['id', isString], ['user', isString], ['status', isString], ['name', isString]],
  cluster: [['name', isString], ['version', isInt], ['owner', isString]],
  job: [['cluster', isString], ['id', isInt], ['status', isString]],
  managedJob: [['id', isInt], ['version', isInt], ['user', isString], ['status', isString]],
  service: [['name', isString], ['revision', isInt], ['user', isString], ['workspace', isString]],
  audit: [['id', isString], ['at', isInt]],
  usage: [['kind', isString], ['clusterId', isString], ['user', isString], ['start', isInt]],
};

/** Why `value` is not a StateItem, or undefined when it is one. */
export function stateItemProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  const type = value.type as StateItemType;
  if (typeof type !== 'string' || !STATE_ITEM_ORDER.includes(type)) return `unknown item type ${JSON.stringify(value.type)}`;
  const keys = RECORD_KEYS[type];
  if (keys !== undefined) {
    const record = value.record;
    if (!isObject(record)) return `${type}: "record" is not an object`;
    for (const [key, ok] of keys) if (!ok(record[key])) return `${type}: record.${key} is missing or of the wrong type`;
  }
  switch (type) {
    case 'feed':
      return isInt(value.last) && isInt(value.lastAt) && (value.last as number) >= 0 ? undefined : 'feed: last and lastAt must be whole numbers';
    case 'counter':
      return value.name === 'managedJobs' && isInt(value.value) && (value.value as number) >= 0 ? undefined : 'counter: unknown counter or bad value';
    case 'requestLog':
      return isString(value.id) && isObject(value.chunk) && isInt(value.chunk.seq) && isInt(value.chunk.at) && typeof value.chunk.text === 'string'
        ? undefined
        : 'requestLog: id and chunk {seq, at, text} are required';
    case 'cluster':
      return isInt(value.jobCounter) && (value.jobCounter as number) >= 0 ? undefined : 'cluster: jobCounter must be a whole number';
    case 'job':
      return value.spec === undefined || isObject(value.spec) ? undefined : 'job: spec must be an object';
    case 'managedJob':
      if (value.spec !== undefined && !isObject(value.spec)) return 'managedJob: spec must be an object';
      return Array.isArray(value.events) ? undefined : 'managedJob: events must be an array';
    case 'service':
      if (!Array.isArray(value.versions) || !value.versions.every((v) => isObject(v) && isInt(v.version) && (v.version as number) >= 1)) {
        return 'service: versions must be an array of specs, each with a version of 1 or more';
      }
      return Array.isArray(value.events) ? undefined : 'service: events must be an array';
    case 'pluginDocument':
      return isString(value.plugin) && isString(value.name) && isInt(value.revision) && (value.revision as number) > 0 && 'value' in value
        ? undefined
        : 'pluginDocument: plugin, name, value and a positive revision are required';
    case 'event':
      return isInt(value.seq) && (value.seq as number) > 0 && isInt(value.at) && isObject(value.change) && isString(value.change.kind)
        ? undefined
        : 'event: seq, at and change are required';
    default:
      return undefined;
  }
}

/** Check items' order (STATE_ITEM_ORDER) as they pass; `where` names each one in an error. */
export function orderChecker(): (item: StateItem, where: string) => void {
  let rank = 0;
  return (item, where) => {
    const next = STATE_ITEM_ORDER.indexOf(item.type);
    if (next < rank) {
      throw new SkyError('VALIDATION_FAILED', `${where}: a ${item.type} item comes after the ${STATE_ITEM_ORDER[rank] ?? ''} items; state items come in the order ${STATE_ITEM_ORDER.join(', ')}`, {
        hint: 'Import what exportState (or `sky api export`) produced, unchanged.',
      });
    }
    rank = next;
  };
}

/** The bytes of a state file, gunzipped when they start with the gzip magic number. */
async function* plainBytes(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  const iterator = input[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done === true) return;
  const head = Buffer.isBuffer(first.value) ? first.value : Buffer.from(first.value);
  const rest = {
    async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
      yield head;
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) return;
        yield Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      }
    },
  };
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip();
    const source = Readable.from(rest);
    source.on('error', (err) => gunzip.destroy(err));
    source.pipe(gunzip);
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (err) {
      throw invalid('the state file', `it is not valid gzip (${(err as Error).message})`);
    }
    return;
  }
  yield* rest;
}

/** A state file being read: its header (checked), then its items (checked one by one, and the trailer at the end). */
export interface StateFileReader {
  header: StateFileHeader;
  /** The items; rejects with STATE_FILE_INVALID on a bad line, a wrong order or a missing trailer. Iterate once. */
  items: AsyncIterable<StateItem>;
}

/**
 * Open a state file from its bytes (plain or gzip). Rejects with STATE_FILE_INVALID when the
 * first line is not a sky-state header, or names a newer version than this one reads.
 */
export async function readStateFile(input: AsyncIterable<Buffer | string>, name = 'the state file'): Promise<StateFileReader> {
  const lines = createInterface({ input: Readable.from(plainBytes(input)), crlfDelay: Infinity })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done === true) throw invalid(name, 'it is empty');
  let header: unknown;
  try {
    header = JSON.parse(first.value);
  } catch {
    throw invalid(name, 'line 1 is not JSON: this is not a sky state file');
  }
  if (!isObject(header) || header.format !== STATE_FILE_FORMAT) throw invalid(name, `line 1 is not a ${STATE_FILE_FORMAT} header: this is not a sky state file`);
  if (!isInt(header.version) || (header.version as number) < 1) throw invalid(name, 'its header has no valid version');
  if ((header.version as number) > STATE_FILE_VERSION) {
    throw invalid(name, `it is format version ${String(header.version)}, newer than this sky reads (${STATE_FILE_VERSION})`, 'Import it with the sky version that exported it, or a newer one.');
  }
  if (!isInt(header.exportedAt) || !isString(header.storeKind) || !isInt(header.schemaVersion)) throw invalid(name, 'its header lacks exportedAt, storeKind or schemaVersion');
  const checked = header as unknown as StateFileHeader;
  async function* items(): AsyncGenerator<StateItem> {
    let line = 1;
    let count = 0;
    const order = orderChecker();
    for (;;) {
      const next = await lines.next();
      if (next.done === true) throw invalid(name, `it ends after line ${line} without its trailer: the file is truncated`);
      line += 1;
      if (next.value.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(next.value);
      } catch {
        throw invalid(name, `line ${line} is not JSON`);
      }
      if (isObject(value) && value.type === 'end') {
        if (value.items !== count) throw invalid(name, `its trailer counts ${String(value.items)} items but ${count} came before it`);
        const after = await lines.next();
        if (after.done !== true && after.value.trim() !== '') throw invalid(name, `line ${line + 1} follows the trailer`);
        return;
      }
      const problem = stateItemProblem(value);
      if (problem !== undefined) throw invalid(name, `line ${line}: ${problem}`);
      const item = value as StateItem;
      try {
        order(item, `line ${line}`);
      } catch (err) {
        throw invalid(name, (err as Error).message);
      }
      count += 1;
      yield item;
    }
  }
  return { header: checked, items: items() };
}
