import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small tmpfs mounted by the test (as root) so it can be filled to the last byte. */
export interface Tmpfs {
  dir: string;
  /** Bytes a non-root writer could still use. */
  free(): number;
  /** Unmount (lazily if something still holds it) and remove the mount point. Safe to call twice. */
  unmount(): void;
}

/** Why a tmpfs cannot be mounted here, or undefined when it can (root on Linux). */
export function tmpfsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  return undefined;
}

export function mountTmpfs(sizeMiB: number, label: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), `sky-${label}-`));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, `sky-${label}`, dir], { stdio: 'pipe' });
  let mounted = true;
  return {
    dir,
    free() {
      const { bavail, bsize } = statfsSync(dir);
      return bavail * bsize;
    },
    unmount() {
      if (mounted) {
        try {
          execFileSync('umount', [dir], { stdio: 'pipe' });
        } catch {
          execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
        }
        mounted = false;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
