import { readFile, open } from 'node:fs/promises';
import type { DaemonInfo } from '@sky/protocol/wire';
import { skyPaths } from './paths.js';

export type { DaemonInfo };

function isDaemonInfo(value: unknown): value is DaemonInfo {
  const v = value as Partial<DaemonInfo> | null;
  return typeof v === 'object' && v !== null && typeof v.pid === 'number' && typeof v.url === 'string';
}

/** The local daemon's record, or undefined when none is written (or it is being rewritten). */
export async function readDaemonInfo(home?: string): Promise<DaemonInfo | undefined> {
  const file = skyPaths(home).daemonFile;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const value: unknown = JSON.parse(text);
    return isDaemonInfo(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The last lines of a log file from byte `from` on (empty when it cannot be read), each cut to `width` characters. */
export async function tailLines(file: string, count: number, from = 0, width = 400): Promise<string[]> {
  const maxBytes = 16_384;
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(from, size - maxBytes, 0);
      const buffer = Buffer.alloc(Math.max(size - start, 0));
      await handle.read(buffer, 0, buffer.length, start);
      const lines = buffer.toString('utf8').split('\n').filter((l) => l.trim() !== '');
      return lines.slice(-count).map((l) => (l.length > width ? `${l.slice(0, width)}…` : l));
    } finally {
      await handle.close();
    }
  } catch {
    return [];
  }
}
