import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { SkyError } from '../wire/errors.js';
import { IgnoreRules, SKYIGNORE } from './ignore-rules.js';

/** One regular file of a tree, with where to read it. */
export interface TreeFile {
  /** Relative to the tree root, '/'-separated (a single-file tree: the file's name). */
  path: string;
  /** Where to read its bytes (a link inside the tree: the file it points to). */
  absolute: string;
  mode: number;
  mtimeMs: number;
  size: number;
}

/** A directory (or a single file) as it is uploaded or synced. */
export interface Tree {
  kind: 'dir' | 'file';
  files: TreeFile[];
  /** Directories with nothing in them (others are created with their files). */
  dirs: string[];
}

export interface WalkOptions {
  /** Refuse a tree with more entries than this (files and directories). */
  maxEntries?: number;
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function failure(what: string, err: unknown): SkyError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOENT' ? 'does not exist' : (err as Error).message;
  return new SkyError('TASK_INVALID', `cannot read ${what}: ${reason}`, { hint: 'Check the path and its permissions, or leave it out with .skyignore.' });
}

/**
 * The files of a directory (or one file) to upload or sync. Rules, the same for the CLI, the
 * SDK and the daemon:
 * - `.skyignore` at the root (gitignore syntax) leaves paths out; without one, `.gitignore`
 *   files are honoured; the ignore file itself is kept.
 * - A symbolic link whose target stays inside the tree is followed (its content is sent under
 *   the link's name); one pointing outside the tree, a broken one, or one that loops is refused
 *   with an error naming it (leave it out with .skyignore).
 * - Sockets, FIFOs and devices are skipped.
 * Entries are sorted by name, so the same tree always gives the same list.
 */
export async function walkTree(source: string, options: WalkOptions = {}): Promise<Tree> {
  let top: Stats;
  let root: string;
  try {
    root = await realpath(source);
    top = await stat(root);
  } catch (err) {
    throw failure(source, err);
  }
  if (top.isFile()) {
    return { kind: 'file', files: [{ path: basename(source), absolute: root, mode: top.mode & 0o777, mtimeMs: top.mtimeMs, size: top.size }], dirs: [] };
  }
  if (!top.isDirectory()) throw new SkyError('TASK_INVALID', `${source} is neither a file nor a directory`);
  const max = options.maxEntries ?? Number.POSITIVE_INFINITY;
  const tree: Tree = { kind: 'dir', files: [], dirs: [] };
  let entries = 0;
  const count = (): void => {
    entries += 1;
    if (entries > max) {
      throw new SkyError('UPLOAD_TOO_LARGE', `${source} has more than ${max} files and directories`, {
        hint: 'Leave large or generated directories out with .skyignore (gitignore syntax).',
      });
    }
  };

  const visit = async (dir: string, rel: string, rules: IgnoreRules, stack: ReadonlySet<string>): Promise<number> => {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (err) {
      throw failure(join(source, rel), err);
    }
    const inner = await rules.enter(dir, rel);
    let kept = 0;
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const absolute = join(dir, name);
      let info: Stats;
      try {
        info = await lstat(absolute);
      } catch (err) {
        throw failure(join(source, path), err);
      }
      let target = absolute;
      if (info.isSymbolicLink()) {
        const link = await readlink(absolute).catch(() => '?');
        try {
          target = await realpath(absolute);
          info = await stat(target);
        } catch {
          if (inner.ignores(path, false)) continue;
          throw new SkyError('TASK_INVALID', `${join(source, path)} is a broken symbolic link (to ${link})`, { hint: `Remove it, or leave it out with ${SKYIGNORE}.` });
        }
        if (inner.ignores(path, info.isDirectory())) continue;
        if (!inside(target, root)) {
          throw new SkyError('TASK_INVALID', `${join(source, path)} is a symbolic link to ${link}, outside ${source}`, {
            hint: `Only links that stay inside the directory are followed; leave it out with ${SKYIGNORE}, or copy what it points to into the directory.`,
          });
        }
        if (info.isDirectory() && stack.has(target)) {
          throw new SkyError('TASK_INVALID', `${join(source, path)} is a symbolic link to ${link}, a directory that contains it (a loop)`, {
            hint: `Leave it out with ${SKYIGNORE}.`,
          });
        }
      } else if (inner.ignores(path, info.isDirectory())) continue;
      if (info.isDirectory()) {
        count();
        const below = await visit(target, path, inner, new Set([...stack, target]));
        if (below === 0) tree.dirs.push(path);
        kept += 1;
      } else if (info.isFile()) {
        count();
        tree.files.push({ path, absolute: target, mode: info.mode & 0o777, mtimeMs: info.mtimeMs, size: info.size });
        kept += 1;
      }
      // sockets, FIFOs and devices are skipped
    }
    return kept;
  };
  await visit(root, '', await IgnoreRules.forRoot(root), new Set([root]));
  return tree;
}

/** `path` relative to `root` with '/' separators, or undefined when it is not inside. */
export function relativeInside(root: string, path: string): string | undefined {
  if (!inside(path, root)) return undefined;
  return relative(root, path).split(sep).join('/');
}
