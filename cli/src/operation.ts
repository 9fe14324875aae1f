import type { OperationBody, OperationName, OperationResult } from '@sky/protocol';
import type { SkyClient } from '@sky/client';
import { withServer } from './context.js';
import { requestError, toStderr, type Writer } from './follow.js';
import { note, print } from './output.js';

export type OperationOutcome<N extends OperationName> =
  | { requestId: string; result: OperationResult<N> }
  /** --async (0) or Ctrl-C (130): the request was submitted and is not waited for. */
  | { requestId: string; exitCode: number };

/** How long the log stream may take to drain once the request has finished. */
const LOG_DRAIN_MS = 3000;

/**
 * Submit one operation and wait for its result, streaming its log to stderr meanwhile (so
 * stdout stays the result). A request that ends FAILED or CANCELLED is thrown as its error
 * (`sky: <message>`, exit 1). With `async`, prints the request ID and does not wait. Ctrl-C
 * stops waiting; the request keeps running.
 */
export async function runOperation<N extends OperationName>(
  client: SkyClient,
  op: N,
  body: OperationBody<N>,
  options: { async?: boolean; what?: string; write?: Writer } = {},
): Promise<OperationOutcome<N>> {
  const { requestId } = await withServer(client, () => client.submit(op, body));
  if (options.async === true) {
    print(requestId);
    note(`${options.what ?? op}: request ${requestId} submitted. Follow it with: sky api logs ${requestId}`);
    return { requestId, exitCode: 0 };
  }
  const write = options.write ?? toStderr;
  const controller = new AbortController();
  const detach = (): void => controller.abort();
  process.once('SIGINT', detach);
  const streaming = client
    .streamLogs(requestId, { follow: true, signal: controller.signal }, (chunk) => write(chunk.text.endsWith('\n') ? chunk.text : `${chunk.text}\n`))
    .then(
      () => undefined,
      () => undefined, // a broken log stream loses lines, not the result: the wait below has it
    );
  try {
    const record = await client.waitUntilDone(requestId, { signal: controller.signal });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([streaming, new Promise<void>((done) => (timer = setTimeout(done, LOG_DRAIN_MS)))]);
    clearTimeout(timer);
    if (record.status !== 'SUCCEEDED') throw requestError(record);
    return { requestId, result: record.result as OperationResult<N> };
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    note(`\nDetached from request ${requestId}; it keeps running. Re-attach with: sky api logs ${requestId}`);
    return { requestId, exitCode: 130 };
  } finally {
    process.off('SIGINT', detach);
    controller.abort();
    await streaming;
  }
}
