import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';

/** Permission bits of group and others: none of them on the daemon's files. */
const SHARED_BITS = 0o077;

/** What making paths private did: modes changed, and paths that could not be changed (with why). */
export interface PrivacyReport {
  changed: number;
  failed: string[];
}

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Drop every group and other permission; the owner keeps its own (a directory also gets rwx). */
function fix(path: string, mode: number, directory: boolean, report: PrivacyReport): void {
  const wanted = (mode & 0o777 & ~SHARED_BITS) | (directory ? 0o700 : 0);
  if ((mode & 0o777) === wanted) return;
  try {
    chmodSync(path, wanted);
    report.changed += 1;
  } catch (err) {
    report.failed.push(`${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * One path and, for a directory, everything under it: no group or other permission left
 * (directories 0700, the daemon's files 0600 as it creates them). Symlinks are left alone.
 */
function walk(path: string, report: PrivacyReport): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') report.failed.push(`${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return;
  }
  if (stat.isSymbolicLink()) return;
  fix(path, stat.mode, stat.isDirectory(), report);
  if (!stat.isDirectory()) return;
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch (err) {
    report.failed.push(`${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return;
  }
  for (const entry of entries) walk(join(path, entry), report);
}

/**
 * Make the daemon's own files private to its account, fixing what an older version (or
 * another umask) left readable: the state directory and everything under it, plus the store
 * directory, the log file and the key file where the config puts them elsewhere.
 */
export function makeStatePrivate(stateDir: string, others: readonly string[]): PrivacyReport {
  const report: PrivacyReport = { changed: 0, failed: [] };
  walk(stateDir, report);
  for (const path of others) if (!inside(stateDir, path)) walk(path, report);
  return report;
}
