import { Readable } from 'node:stream';
import type { Context } from 'koa';
import type { JobLogLine } from '@sky/protocol';

/** A name safe inside `filename="…"`: letters, digits, `.`, `_` and `-` only. */
function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 200) || 'log';
}

/**
 * Answer a whole log as a plain-text download (`format=text`): the text is pulled from
 * `chunks` as the client takes it, so a log of any size goes out without being held in
 * memory, and a client that goes away stops the reading (its signal is aborted).
 */
export function sendTextLog(ctx: Context, fileName: string, chunks: (signal: AbortSignal) => AsyncIterable<string>): void {
  const controller = new AbortController();
  ctx.req.socket.setTimeout(0);
  ctx.set('content-type', 'text/plain; charset=utf-8');
  ctx.set('content-disposition', `attachment; filename="${safeFileName(fileName)}"`);
  ctx.set('cache-control', 'no-store');
  ctx.set('x-content-type-options', 'nosniff');
  const body = Readable.from(chunks(controller.signal), { objectMode: false, highWaterMark: 64 * 1024 });
  const stop = (): void => controller.abort();
  ctx.res.on('close', stop);
  body.on('error', stop);
  ctx.status = 200;
  ctx.body = body;
}

/**
 * A job log line as text: its rank's label in front, as the CLI prints a multi-node job's
 * lines (`(head, rank=0, ip=…)`, `(worker1, rank=1, …)`); `numNodes` undefined labels the
 * lines of ranks other than 0 only. Always ends with a newline.
 */
export function jobLineText(line: JobLogLine, numNodes: number | undefined, addresses: readonly string[] = []): string {
  const text = line.text.endsWith('\n') ? line.text.slice(0, -1) : line.text;
  const labelled = numNodes === undefined ? line.rank !== 0 : numNodes > 1;
  if (!labelled) return `${text}\n`;
  const role = line.rank === 0 ? 'head' : `worker${line.rank}`;
  const ip = addresses[line.rank];
  const label = `(${role}, rank=${line.rank}${ip === undefined || ip === '' ? '' : `, ip=${ip}`})`;
  return `${text
    .split('\n')
    .map((part) => `${label} ${part}`)
    .join('\n')}\n`;
}
