import type { ClientChannel } from 'ssh2';
import { shellQuote, streamScript } from '@sky/runtime';
import type { SkyError } from '@sky/protocol';
import { pullChunks, Tail } from './chunk-queue.js';
import { streamFailed } from './local-transport.js';
import { SshConnection, type SshOptions, type SshTarget } from './ssh-connection.js';

/** Streams one connection carries; sshd's MaxSessions (10 by default) bounds the channels of a connection. */
const STREAMS_PER_CONNECTION = 8;

/**
 * The long-lived commands of one host (NodeTransport.stream): each one exec channel, on
 * connections of their own beside the host's command connection, so followers that never end do
 * not take the channels commands need. A connection carries up to STREAMS_PER_CONNECTION
 * streams; more open another. Closing a channel ends the remote command (the stream script's
 * watcher sees its stdin end), and so does a lost connection once sshd notices it.
 */
export class SshStreams {
  private readonly connections: Array<{ connection: SshConnection; streams: number }> = [];

  constructor(
    private readonly target: SshTarget,
    private readonly options: SshOptions,
    private readonly via: SshConnection | undefined,
  ) {}

  /** Stream connections open now (for tests and metrics). */
  get openConnections(): number {
    return this.connections.filter((c) => c.connection.isOpen).length;
  }

  private take(): { connection: SshConnection; release: () => void } {
    let entry = this.connections.find((c) => c.streams < STREAMS_PER_CONNECTION);
    if (entry === undefined) {
      entry = { connection: new SshConnection(this.target, { ...this.options, maxChannels: STREAMS_PER_CONNECTION }, this.via), streams: 0 };
      this.connections.push(entry);
    }
    const held = entry;
    held.streams += 1;
    let released = false;
    return {
      connection: held.connection,
      release: () => {
        if (released) return;
        released = true;
        held.streams -= 1;
      },
    };
  }

  stream(command: string, signal: AbortSignal): AsyncIterable<Buffer> {
    return pullChunks(signal, (queue) => {
      const { connection, release } = this.take();
      const label = connection.label;
      const stderr = new Tail();
      let channel: ClientChannel | undefined;
      let stopped = false;
      let closed = false;
      let exit: { code: number | null; signal: string | null } | undefined;
      let lost: () => SkyError | undefined = () => undefined;
      const attach = (ch: ClientChannel): void => {
        channel = ch;
        queue.flow = { pause: () => ch.pause(), resume: () => ch.resume() };
        ch.on('data', (chunk: Buffer) => queue.push(chunk));
        ch.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
        ch.on('exit', (code: number | null, signalName?: string) => {
          exit = { code: typeof code === 'number' ? code : null, signal: signalName ?? null };
        });
        ch.on('error', () => undefined);
        ch.once('close', () => {
          closed = true;
          const dropped = lost();
          if (exit?.code === 0) queue.end();
          else if (dropped) queue.end(dropped);
          else queue.end(streamFailed(label, exit?.code ?? 255, exit?.signal, stderr.value));
        });
        if (stopped) ch.close();
      };
      connection.exec(`sh -c ${shellQuote(streamScript(command))}`, attach).then(
        (opened) => {
          lost = opened.lost;
          const done = (): void => {
            opened.done();
            release();
          };
          if (closed || channel === undefined) done();
          else channel.once('close', done);
        },
        (err: unknown) => {
          release();
          queue.end(err instanceof Error ? err : new Error(String(err)));
        },
      );
      return () => {
        stopped = true;
        try {
          channel?.close();
        } catch {
          // closing already
        }
      };
    });
  }

  async close(final = false): Promise<void> {
    await Promise.all(this.connections.map((c) => c.connection.close(final)));
  }
}
