import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { SshConnection } from '../nodes/ssh-connection.js';
import type { NodeBackend, NodeExit, NodeProcess, PtyRequest } from './node-backend.js';

/** An ssh2 channel on the node as a NodeProcess: its stdout and stdin are the channel itself. */
function channelProcess(channel: ClientChannel): NodeProcess {
  let exit: NodeExit = { code: 255 };
  channel.on('exit', (code: number | null, signal?: string) => {
    exit = code !== null && code !== undefined ? { code } : { signal: (signal ?? 'KILL').replace(/^SIG/, '') };
  });
  channel.on('error', () => undefined);
  return {
    stdin: channel,
    stdout: channel,
    stderr: channel.stderr,
    onClose: (listener) => channel.once('close', () => listener(exit)),
    resize: (rows, cols, height, width) => channel.setWindow(rows, cols, height, width),
    signal: (name) => {
      channel.signal(name);
    },
    kill: () => channel.close(),
  };
}

/**
 * A node of an SSH driver: the user's session is opened on the node over an SSH connection of
 * the daemon (the pool's user and key, the daemon's known_hosts), one per tunnel so that a
 * user's shells never take sessions from the daemon's own job channels.
 */
export class SshNodeBackend implements NodeBackend {
  constructor(private readonly connection: SshConnection) {}

  async shell(pty: PtyRequest | undefined, env: Readonly<Record<string, string>>): Promise<NodeProcess> {
    return channelProcess(await this.connection.session({ kind: 'shell', pty, env }));
  }

  async exec(command: string, pty: PtyRequest | undefined, env: Readonly<Record<string, string>>): Promise<NodeProcess> {
    return channelProcess(await this.connection.session({ kind: 'exec', command, pty, env }));
  }

  async sftp(): Promise<NodeProcess> {
    return channelProcess(await this.connection.session({ kind: 'subsystem', name: 'sftp' }));
  }

  connect(host: string, port: number): Promise<Duplex> {
    return this.connection.forward(host, port, this.connection.errorContext);
  }

  close(): Promise<void> {
    return this.connection.close(true);
  }
}
