import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { SkyError, type SkyClient } from '@sky/client';
import { withServer } from '../context.js';
import { note } from '../output.js';
import { UsageError, type CliOptions } from '../usage.js';

/** Keeps the first line and the last bytes of the (plain) state file going through, to tell a whole file from a cut one. */
class Watch extends Transform {
  first = '';
  #firstDone = false;
  tail = '';

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = chunk.toString('utf8');
    if (!this.#firstDone) {
      const nl = text.indexOf('\n');
      this.first += nl < 0 ? text : text.slice(0, nl);
      this.#firstDone = nl >= 0 || this.first.length > 4096;
    }
    this.tail = (this.tail + text).slice(-512);
    done();
  }
}

interface FileFacts {
  storeKind: string;
  items: number;
}

function factsOf(watch: Watch): FileFacts {
  const lines = watch.tail.trimEnd().split('\n');
  let trailer: unknown;
  let header: unknown;
  try {
    trailer = JSON.parse(lines[lines.length - 1] ?? '');
    header = JSON.parse(watch.first);
  } catch {
    trailer = undefined;
  }
  const t = trailer as { type?: unknown; items?: unknown } | undefined;
  const h = header as { storeKind?: unknown } | undefined;
  if (t?.type !== 'end' || typeof t.items !== 'number') {
    throw new SkyError('SERVER_UNREACHABLE', 'the export stopped before the end of the state file (the API server failed or the connection dropped); nothing was kept', {
      hint: 'Run sky api export again; the API server log says why it stopped.',
    });
  }
  return { storeKind: typeof h?.storeKind === 'string' ? h.storeKind : 'unknown', items: t.items };
}

/**
 * `sky api export [FILE]` (admins): the whole state of the API server's store, from one point
 * in time, to FILE (gzip-compressed when it ends in .gz or with --gzip) or to standard output.
 * The file appears only once it is whole: it is written next to FILE and renamed at the end.
 */
export async function exportState(client: SkyClient, args: string[], options: CliOptions): Promise<number> {
  const file = args[0] === '-' ? undefined : args[0];
  const gzip = options.gzip === true || (file !== undefined && file.endsWith('.gz'));
  if (file === undefined && process.stdout.isTTY) {
    throw new UsageError('sky api export writes a state file: name it (sky api export FILE), or redirect standard output', 'sky api export --help');
  }
  const res = await withServer(client, () => client.exportState({ gzip }));
  const watch = new Watch();
  const partial = file === undefined ? undefined : join(dirname(file), `.${basename(file)}.partial-${process.pid}`);
  const sink: Writable = partial === undefined ? process.stdout : createWriteStream(partial, { mode: 0o600 });
  const tee = new PassThrough();
  res.pipe(tee);
  try {
    const plain = gzip ? tee.pipe(createGunzip()) : tee;
    const writing = pipeline(res, sink, partial === undefined ? { end: false } : {});
    await Promise.all([writing, pipeline(plain, watch)]);
    const facts = factsOf(watch);
    if (partial !== undefined && file !== undefined) await rename(partial, file);
    note(`Exported the ${facts.storeKind} store's state (${facts.items} records) to ${file ?? 'standard output'}${gzip ? ' (gzip)' : ''}.`);
    return 0;
  } catch (err) {
    if (partial !== undefined) await rm(partial, { force: true });
    if (err instanceof SkyError) throw err;
    throw new SkyError('SERVER_UNREACHABLE', `the export stopped before the end of the state file: ${(err as Error).message}; nothing was kept`, {
      hint: 'Run sky api export again; the API server log says why it stopped.',
    });
  }
}
