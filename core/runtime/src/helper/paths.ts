import { posix } from 'node:path';
import { SkyError } from '@sky/protocol';

/** A cluster or node directory name: what the local driver makes of cluster ids and ranks. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

function outside(what: string, hint = 'Paths on an account node stay inside its node directory.'): SkyError {
  return new SkyError('NODE_HELPER_REFUSED', what, { hint });
}

/**
 * The helper's lexical path rules. Every path it is sent must lie under
 * `<node root>/<account>/<cluster>`; the file operations themselves run as the account, so a
 * symlink a job plants can only lead where the account could go anyway.
 */
export class NodePaths {
  constructor(readonly nodeRoot: string) {}

  accountDir(account: string): string {
    return posix.join(this.nodeRoot, account);
  }

  /** `dir` relative to the account's directory, split; refused unless normalised and made of safe names. */
  private segments(account: string, dir: string, what: string): string[] {
    const base = this.accountDir(account);
    if (posix.normalize(dir) !== dir || !dir.startsWith(`${base}/`)) {
      throw outside(`${what} ${JSON.stringify(dir)} is not under ${base}/ (the node root of account ${account})`);
    }
    const parts = dir.slice(base.length + 1).split('/');
    if (parts.some((p) => !SEGMENT.test(p))) throw outside(`${what} ${JSON.stringify(dir)} has a name that is not a cluster or node directory`);
    return parts;
  }

  /** A node directory: exactly `<node root>/<account>/<cluster>/<node>`. */
  nodeDir(account: string, node: string): string {
    if (this.segments(account, node, 'node directory').length !== 2) {
      throw outside(`node directory ${JSON.stringify(node)} is not <node root>/${account}/<cluster>/<node>`);
    }
    return node;
  }

  /** A cluster directory or one of its node directories (what removeNodeDir may remove). */
  clusterOrNodeDir(account: string, dir: string): string {
    const n = this.segments(account, dir, 'directory').length;
    if (n !== 1 && n !== 2) throw outside(`directory ${JSON.stringify(dir)} is neither <node root>/${account}/<cluster> nor one of its nodes`);
    return dir;
  }

  /**
   * A path on the node (relative to the node directory, or absolute inside it) as an absolute
   * path, refused when it leaves the node directory. `allowRoot`: the node directory itself is fine.
   */
  inNode(nodeDir: string, path: string, allowRoot = false): string {
    if (path.includes('\0')) throw outside('a path contains a NUL byte');
    const full = posix.resolve(nodeDir, path);
    if (full === nodeDir && allowRoot) return full;
    if (!full.startsWith(`${nodeDir}/`)) throw outside(`path ${JSON.stringify(path)} leaves the node directory ${nodeDir}`);
    return full;
  }

  /** A file path under `base` (itself inside the node): relative, '/'-separated, no empty, '.' or '..' segments. */
  under(base: string, relative: string): string {
    const parts = relative.split('/');
    if (relative.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || relative.includes('\0')) {
      throw outside(`file path ${JSON.stringify(relative)} must be relative, without empty, "." or ".." segments`);
    }
    return posix.join(base, relative);
  }
}
