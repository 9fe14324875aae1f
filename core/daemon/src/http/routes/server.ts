import { open, stat } from 'node:fs/promises';
import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import type { PluginRegistry, ShutdownSignal } from '../../tokens.js';
import { bindRoute } from '../bind.js';
import { openSse, type SseWriter } from '../sse.js';

export interface ServerDeps {
  logFile: string;
  plugins: PluginRegistry;
  /** How this replica's plugins differ from the other replicas' (empty on a store of its own). */
  pluginDifferences: () => Promise<string[]>;
  shutdown: ShutdownSignal;
  maxBodyBytes: number;
}

const FOLLOW_POLL_MS = 250;
const MAX_TAIL_BYTES = 8 * 1024 * 1024;

async function readFrom(file: string, offset: number, length: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Stream the daemon's log: the last `tail` lines, then (with follow) new lines as they are written. */
async function streamServerLog(sse: SseWriter, deps: ServerDeps, tail: number | undefined, follow: boolean): Promise<void> {
  let size = await sizeOf(deps.logFile);
  const start = Math.max(0, size - MAX_TAIL_BYTES);
  const text = size > 0 ? await readFrom(deps.logFile, start, size - start) : '';
  let lines = text.split('\n').filter((l) => l.length > 0);
  if (start > 0) lines = lines.slice(1); // first line may be cut
  if (tail !== undefined) lines = tail === 0 ? [] : lines.slice(-tail);
  for (const line of lines) sse.send('log', { text: line });
  if (!follow) {
    sse.send('end', {});
    return;
  }
  let partial = '';
  while (!sse.signal.aborted && !deps.shutdown.signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    const now = await sizeOf(deps.logFile);
    if (now < size) size = 0; // rotated or truncated
    if (now === size) continue;
    const chunk = partial + (await readFrom(deps.logFile, size, Math.min(now - size, MAX_TAIL_BYTES)));
    size = now;
    const parts = chunk.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.length > 0) sse.send('log', { text: line });
  }
}

/** The daemon's own log and the state of its plugins. */
export function serverRoutes(router: Router, deps: ServerDeps): void {
  bindRoute(router, ROUTES.serverLogs, deps.maxBodyBytes, async (ctx, { query }) => {
    const sse = openSse(ctx);
    void streamServerLog(sse, deps, query.tail, query.follow ?? false)
      .catch((err: unknown) => sse.send('error', { message: err instanceof Error ? err.message : String(err) }))
      .finally(() => sse.close());
  });
  bindRoute(router, ROUTES.listPlugins, deps.maxBodyBytes, async (ctx) => {
    const [list, differences] = await Promise.all([deps.plugins.list(), deps.pluginDifferences()]);
    ctx.body = differences.length > 0 ? { ...list, replicaDifferences: differences } : list;
  });
}
