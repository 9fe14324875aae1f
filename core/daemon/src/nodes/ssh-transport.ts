import { posix } from 'node:path';
import type { Stats } from 'ssh2';
import { SkyError } from '@sky/protocol';
import type { CommandResult, NodeTransport, StreamOptions, SyncFile } from './transport.js';
import { SshStreams } from './ssh-stream.js';
import { SshConnection, type SocketOpener, type SshOptions, type SshTarget } from './ssh-connection.js';
import { ExecRunner, type RunOptions, type SshCommandRunner } from './ssh-exec.js';
import { Sftp } from './ssh-sftp.js';
import { parallel } from './parallel.js';
import { assertSyncPath } from './sync-paths.js';

const FILES_IN_FLIGHT = 8;

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
  /** Long-lived commands: beside commands on the host's connection, then on overflow connections (see SshStreams). */
  readonly streams: SshStreams;

  /** `via`: the connection to a jump host to go through (ProxyJump). */
  constructor(target: SshTarget, options: SshOptions = {}, via?: SshConnection, opener?: SocketOpener) {
    this.connection = new SshConnection(target, options, via, opener);
    this.runner = new ExecRunner(this.connection);
    this.streams = new SshStreams(this.connection, target, options, via, opener);
  }

  get label(): string {
    return this.connection.label;
  }

  run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    return this.runner.run(command, options);
  }

  stream(command: string, options: StreamOptions): AsyncIterable<Buffer> {
    return this.streams.stream(command, options.signal);
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

  /**
   * Files go over the connection's SFTP session, each to a temporary name renamed into place;
   * one whose size and mtime (whole seconds, what SFTP carries) match what the host has is
   * skipped. An absolute `dest` is that path on the host; a relative one is under the login's home.
   */
  syncFiles(dest: string, files: readonly SyncFile[], dirs: readonly string[] = []): Promise<number> {
    return this.withSftp(`syncing files to ${dest}`, async (sftp) => {
      const made = new Map<string, Promise<void>>();
      const mkdirp = (dir: string): Promise<void> => {
        let done = made.get(dir);
        if (done === undefined) {
          done = sftp.mkdirp(dir);
          made.set(dir, done);
        }
        return done;
      };
      const listings = new Map<string, Promise<Map<string, Stats>>>();
      const listing = (dir: string): Promise<Map<string, Stats>> => {
        let entries = listings.get(dir);
        if (entries === undefined) {
          entries = sftp.readdirOrEmpty(dir).then((list) => new Map(list.map((e) => [e.filename, e.attrs])));
          listings.set(dir, entries);
        }
        return entries;
      };
      await mkdirp(dest);
      for (const dir of dirs) {
        assertSyncPath(dir);
        await mkdirp(posix.join(dest, dir));
      }
      let written = 0;
      await parallel(files, FILES_IN_FLIGHT, async (file) => {
        assertSyncPath(file.path);
        const target = posix.join(dest, file.path);
        const parent = posix.dirname(target);
        await mkdirp(parent);
        const mtime = Math.floor(file.mtimeMs / 1000);
        const existing = (await listing(parent)).get(posix.basename(target));
        if (existing?.isFile() && existing.size === file.size && existing.mtime === mtime) return;
        await sftp.putStreamAtomic(file.open(), target, file.mode & 0o777, mtime);
        written += 1;
      });
      return written;
    });
  }

  /** Close the connection; `final` refuses later use (daemon stop), else the next use reconnects. */
  async close(final = false): Promise<void> {
    await this.runner.close();
    await this.streams.close(final);
    await this.connection.close(final);
  }
}
