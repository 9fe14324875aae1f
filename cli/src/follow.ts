import type { RequestRecord, RequestStatus } from '@sky/protocol';
import { isTerminal, type SkyClient } from '@sky/client';
import { note } from './output.js';

export interface Followed {
  /** Status the log stream ended on (the current one with --no-follow). */
  status: RequestStatus;
  /** The final record, once the request has finished. */
  record: RequestRecord | undefined;
  /** The user pressed Ctrl-C: the request keeps running. */
  detached: boolean;
}

function writeLog(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * Stream a request's log to stdout. Ctrl-C detaches (the request keeps running) and says how
 * to re-attach; it never cancels.
 */
export async function followRequest(client: SkyClient, id: string, follow: boolean): Promise<Followed> {
  const controller = new AbortController();
  const detach = (): void => controller.abort();
  process.once('SIGINT', detach);
  try {
    const status = await client.streamLogs(id, { follow, signal: controller.signal }, (chunk) => writeLog(chunk.text));
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
