import { posix } from 'node:path';
import { SkyError } from '@sky/protocol';
import type { CommandResult, NodeTransport } from './transport.js';
import { SshConnection, type SshOptions, type SshTarget } from './ssh-connection.js';
import { ExecRunner, type RunOptions, type SshCommandRunner } from './ssh-exec.js';
import { Sftp, uploadPath, uploadTree } from './ssh-sftp.js';

export { detectionBoundMs, SSH_DEFAULTS, type SshOptions, type SshTarget } from './ssh-connection.js';
export { TIMEOUT_EXIT_CODE } from './ssh-exec.js';

/**
 * A node reached over SSH. Everything goes over one pooled connection to the host (see
 * SshConnection: lazy, keepalive-watched, reopened on the next use after a drop, host key
 * checked against known_hosts): commands as channels on it, files through its one SFTP session.
 * Relative paths are relative to the login user's home directory, the node root of an SSH node.
 *
 * Errors: NODE_UNREACHABLE naming the host for anything about reaching it (refused, timeout,
 * auth, host key, a drop mid-operation); NODE_RUNTIME_ERROR for a file operation the host
 * refused (permission, full disk).
 */
export class SshTransport implements NodeTransport {
  readonly connection: SshConnection;
  private readonly runner: SshCommandRunner;

  /** `via`: the connection to a jump host to go through (ProxyJump). */
  constructor(target: SshTarget, options: SshOptions = {}, via?: SshConnection) {
    this.connection = new SshConnection(target, options, via);
    this.runner = new ExecRunner(this.connection);
  }

  get label(): string {
    return this.connection.label;
  }

  run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    return this.runner.run(command, options);
  }

  /** Run `fn` with the SFTP session; file errors name the host, a drop is NODE_UNREACHABLE. */
  private async withSftp<T>(what: string, fn: (sftp: Sftp) => Promise<T>): Promise<T> {
    const { sftp, lost } = await this.connection.sftp();
    try {
      return await fn(new Sftp(sftp));
    } catch (err) {
      const dropped = lost();
      if (dropped) throw dropped;
      if (err instanceof SkyError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new SkyError('NODE_RUNTIME_ERROR', `${what} on ${this.label} failed: ${message}`, {
        hint: 'Check the permissions and free space on the node.',
        details: { host: this.connection.target.host },
        cause: err,
      });
    }
  }

  writeFiles(dir: string, files: Record<string, string>, privateFiles: readonly string[] = []): Promise<void> {
    return this.withSftp(`writing files under ${dir}`, async (sftp) => {
      await sftp.mkdirp(dir);
      for (const [name, content] of Object.entries(files)) {
        const file = posix.join(dir, name);
        await sftp.mkdirp(posix.dirname(file));
        await sftp.writeFileAtomic(file, content, privateFiles.includes(name) ? 0o600 : 0o644);
      }
    });
  }

  readFrom(path: string, offset: number, max: number): Promise<{ data: Buffer; size: number }> {
    return this.withSftp(`reading ${path}`, (sftp) => sftp.readFrom(path, offset, max));
  }

  syncDir(source: string, dest: string): Promise<number> {
    return this.withSftp(`syncing ${source} to ${dest}`, (sftp) => uploadTree(sftp, source, dest, true));
  }

  copy(source: string, dest: string): Promise<void> {
    return this.withSftp(`copying ${source} to ${dest}`, (sftp) => uploadPath(sftp, source, dest));
  }

  /** Close the connection; `final` refuses later use (daemon stop), else the next use reconnects. */
  async close(final = false): Promise<void> {
    await this.runner.close();
    await this.connection.close(final);
  }
}
