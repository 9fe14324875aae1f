import type { ClientChannel } from 'ssh2';
import { shellQuote, streamScript } from '@sky/runtime';
import type { SkyError } from '@sky/protocol';
import { pullChunks, Tail } from './chunk-queue.js';
import { streamFailed } from './local-transport.js';
import { SshConnection, type SocketOpener, type SshOptions, type SshTarget } from './ssh-connection.js';

/**
 * Streams that share the host's command connection. sshd allows MaxSessions (10 by default)
 * channels per connection and commands take up to 8 (SSH_DEFAULTS.maxChannels): two more are
 * streams' — a journal follower and a log follower live beside commands on one connection.
 */
const STREAMS_ON_MAIN = 2;
/** Streams an overflow connection carries. */
const STREAMS_PER_CONNECTION = 8;
/** An overflow connection left without streams is closed after this long. */
const OVERFLOW_IDLE_MS = 10_000;

interface Carrier {
  connection: SshConnection;
  streams: number;
  /** Whether streams on it bypass the connection's command slots (the host's own connection). */
  main: boolean;
  idle: NodeJS.Timeout | undefined;
}

/**
 * The long-lived commands of one host (NodeTransport.stream), each one exec channel. The first
 * STREAMS_ON_MAIN go on the host's pooled connection, beside (not instead of) the channels
 * commands need; more go on overflow connections of STREAMS_PER_CONNECTION streams each, closed
 * again once idle. Closing a channel ends the remote command (the stream script's watcher sees
 * its stdin end), and so does a lost connection once sshd notices it.
 */
export class SshStreams {
  private readonly main: Carrier;
  private readonly overflow: Carrier[] = [];

  constructor(
    connection: SshConnection,
    private readonly target: SshTarget,
    private readonly options: SshOptions,
    private readonly via: SshConnection | undefined,
    /** The node's driver tunnel, when it is reached through one. */
    private readonly opener?: SocketOpener,
  ) {
    this.main = { connection, streams: 0, main: true, idle: undefined };
  }

  /** Overflow connections open now (for tests and metrics). */
  get overflowConnections(): number {
    return this.overflow.filter((c) => c.connection.isOpen).length;
  }

  private take(): { carrier: Carrier; release: () => void } {
    let carrier: Carrier | undefined = this.main.streams < STREAMS_ON_MAIN ? this.main : this.overflow.find((c) => c.streams < STREAMS_PER_CONNECTION);
    if (carrier === undefined) {
      carrier = {
        connection: new SshConnection(this.target, { ...this.options, maxChannels: STREAMS_PER_CONNECTION }, this.via, this.opener),
        streams: 0,
        main: false,
        idle: undefined,
      };
      this.overflow.push(carrier);
    }
    const held = carrier;
    held.streams += 1;
    if (held.idle !== undefined) clearTimeout(held.idle);
    held.idle = undefined;
    let released = false;
    return {
      carrier: held,
      release: () => {
        if (released) return;
        released = true;
        held.streams -= 1;
        if (held.main || held.streams > 0) return;
        held.idle = setTimeout(() => {
          const at = this.overflow.indexOf(held);
          if (held.streams > 0 || at < 0) return;
          this.overflow.splice(at, 1);
          void held.connection.close();
        }, OVERFLOW_IDLE_MS);
        held.idle.unref();
      },
    };
  }

  stream(command: string, signal: AbortSignal): AsyncIterable<Buffer> {
    return pullChunks(signal, (queue) => {
      const { carrier, release } = this.take();
      const { connection } = carrier;
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
      connection.exec(`sh -c ${shellQuote(streamScript(command))}`, attach, carrier.main).then(
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

  /** Close the overflow connections (the host's own is its transport's to close). */
  async close(final = false): Promise<void> {
    const overflow = this.overflow.splice(0);
    for (const c of overflow) if (c.idle !== undefined) clearTimeout(c.idle);
    await Promise.all(overflow.map((c) => c.connection.close(final)));
  }
}
