import type { NodeHelper } from '@sky/plugin-api';
import type { CommandResult, NodeTransport, StreamOptions, SyncFile } from './transport.js';

/**
 * A local node that belongs to an OS account (a team member's): every command runs, and every
 * file is read and written, as that account by sky-node-helper, over the daemon's one connection
 * to it. The daemon never touches the node's directory itself (it cannot: the directory is the
 * account's, mode 0700), and the helper refuses paths outside the node. Job status and logs are
 * read the same way: `sky-node.sh status` runs as the account, logs are read by its worker.
 */
export class AccountTransport implements NodeTransport {
  constructor(
    readonly helper: NodeHelper,
    readonly account: string,
    readonly root: string,
  ) {}

  run(command: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<CommandResult> {
    return this.helper.run(this.account, this.root, command, options);
  }

  /** Through the helper's `stream` call: the command runs as the account, its output comes in bounded frames. */
  stream(command: string, options: StreamOptions): AsyncIterable<Buffer> {
    return this.helper.stream(this.account, this.root, command, options.signal);
  }

  writeFiles(dir: string, files: Record<string, string>, privateFiles: readonly string[] = []): Promise<void> {
    const entries = Object.entries(files).map(([path, data]) => ({ path, mode: privateFiles.includes(path) ? 0o600 : 0o644, data }));
    return this.helper.writeFiles(this.account, this.root, dir, entries);
  }

  readFrom(path: string, offset: number, max: number): Promise<{ data: Buffer; size: number }> {
    return this.helper.read(this.account, this.root, path, offset, max);
  }

  syncFiles(dest: string, files: readonly SyncFile[], dirs: readonly string[] = []): Promise<number> {
    return this.helper.syncFiles(this.account, this.root, dest, files, dirs);
  }
}

