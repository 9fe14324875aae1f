import { accessSync, constants, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Where util-linux keeps `script`, which gives a session a pseudo-terminal. */
export const SCRIPT_PATHS = ['/usr/bin/script', '/bin/script'];

/** Whether `path` is a file this process may run. */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first of `paths` this process may run. */
export function firstExecutable(paths: readonly string[]): string | undefined {
  return paths.find(executable);
}

/**
 * The terminal (/dev/pts/N) on stdin of `pid` or of one of its descendants, through Linux /proc:
 * under `script`, its child holds the terminal the session's programs run on.
 */
export function terminalUnder(pid: number): string | undefined {
  const queue = [pid];
  for (let seen = 0; queue.length > 0 && seen < 64; seen++) {
    const next = queue.shift()!;
    try {
      const link = readlinkSync(`/proc/${next}/fd/0`);
      if (link.startsWith('/dev/pts/')) return link;
    } catch {
      // gone, or no stdin
    }
    try {
      for (const task of readdirSync(`/proc/${next}/task`)) {
        const text = readFileSync(`/proc/${next}/task/${task}/children`, 'utf8').trim();
        if (text !== '') queue.push(...text.split(/\s+/).map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
