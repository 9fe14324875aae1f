import type { RequestRecord, RequestStatus } from '@sky/protocol';
import { SkyError, isTerminal, type SkyClient } from '@sky/client';
import { note, writeErr, writeOut } from './output.js';

export interface Followed {
  /** Status the log stream ended on (the current one with --no-follow). */
  status: RequestStatus;
  /** The final record, once the request has finished. */
  record: RequestRecord | undefined;
  /** The user pressed Ctrl-C: the request keeps running. */
  detached: boolean;
}

export type Writer = (text: string) => void;

export const toStdout: Writer = (text) => writeOut(text);
export const toStderr: Writer = (text) => writeErr(text);

function lineWriter(write: Writer): (text: string) => void {
  return (text) => write(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * Stream a request's log (to stdout unless told otherwise). Ctrl-C detaches (the request
 * keeps running) and says how to re-attach; it never cancels.
 */
export async function followRequest(client: SkyClient, id: string, follow: boolean, write: Writer = toStdout): Promise<Followed> {
  const controller = new AbortController();
  const detach = (): void => controller.abort();
  const writeLine = lineWriter(write);
  process.once('SIGINT', detach);
  try {
    const status = await client.streamLogs(id, { follow, signal: controller.signal }, (chunk) => writeLine(chunk.text));
    const record = isTerminal(status) ? await client.get(id) : undefined;
    return { status, record, detached: false };
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    note(`\nDetached from request ${id}; it keeps running. Re-attach with: sky api logs ${id}`);
    return { status: 'RUNNING', record: undefined, detached: true };
  } finally {
    process.off('SIGINT', detach);
  }
}

/** Exit code for a followed request, telling the user on stderr why it is not 0. */
export function exitCodeOf(followed: Followed, id: string): number {
  if (followed.detached) return 130;
  const { record } = followed;
  if (followed.status === 'FAILED') {
    const error = record?.error;
    note(`sky: request ${id} failed${error === undefined ? '' : `: ${error.message}`}`);
    if (error?.hint !== undefined) note(`  hint: ${error.hint}`);
    return 1;
  }
  if (followed.status === 'CANCELLED') {
    note(`sky: request ${id} was cancelled`);
    return 1;
  }
  return 0;
}

/**
 * The error a finished request carries, as a SkyError (its code, message and hint), so a
 * command reports it like any other failure. The message names the request when it failed
 * without saying why.
 */
export function requestError(record: Pick<RequestRecord, 'id' | 'name' | 'status' | 'error'>): SkyError {
  const log = `sky api logs ${record.id}`;
  if (record.status === 'CANCELLED') return new SkyError('CANCELLED', `request ${record.id} (${record.name}) was cancelled`, { hint: `See its log with: ${log}` });
  const error = record.error;
  if (error === undefined) return new SkyError('OPERATION_FAILED', `request ${record.id} (${record.name}) failed`, { hint: `See its log with: ${log}` });
  return SkyError.fromBody({
    error: { ...error, hint: error.hint ?? `See the log of request ${record.id} with: ${log}`, details: { ...error.details, requestId: record.id } },
  });
}
