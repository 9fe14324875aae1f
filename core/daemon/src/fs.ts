import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SkyError } from '@sky/protocol';

/**
 * Create a directory and its missing parents, one level at a time. (Node's recursive mkdir
 * spins forever under pseudo filesystems such as /proc; this fails with a clear error instead.)
 */
export function ensureDir(dir: string, purpose: string): void {
  const missing: string[] = [];
  let current = dir;
  for (;;) {
    try {
      if (!statSync(current).isDirectory()) throw unavailable(dir, purpose, `${current} is not a directory`);
      break;
    } catch (err) {
      if (err instanceof SkyError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw unavailable(dir, purpose, `${current}: ${code ?? String(err)}`);
      missing.push(current);
      const parent = dirname(current);
      if (parent === current) break;
      current = parent;
    }
  }
  for (const level of missing.reverse()) {
    try {
      mkdirSync(level, 0o700);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw unavailable(dir, purpose, `${level}: ${code ?? String(err)}`);
    }
  }
}

function unavailable(dir: string, purpose: string, reason: string): SkyError {
  return new SkyError('STATE_UNAVAILABLE', `cannot create the ${purpose} directory ${dir} (${reason})`, {
    hint: 'Choose a writable state_dir (or store.path / log.file) in the daemon config.',
  });
}
