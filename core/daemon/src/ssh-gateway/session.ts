import type { Duplex } from 'node:stream';
import type { Connection, ServerChannel, Session } from 'ssh2';
import { toSkyError } from '@sky/protocol';
import { acceptedEnv, SIGNALS, type NodeBackend, type NodeProcess, type PtyRequest } from './node-backend.js';

/** What one SSH connection inside a tunnel may hold at a time (sessions and forwarded connections). */
export const MAX_CHANNELS_PER_TUNNEL = 16;

/** Processes and sockets a tunnel holds, so that closing it ends them all. */
export interface ChannelTracker {
  add(end: () => void): () => void;
}

function message(err: unknown): string {
  const sky = toSkyError(err);
  if (sky !== undefined) return sky.hint !== undefined ? `${sky.message}\n  hint: ${sky.hint}` : sky.message;
  return err instanceof Error ? err.message : String(err);
}

/** Pipe a node process to the user's channel both ways, then pass its exit status on and close the channel. */
function pipe(channel: ServerChannel, proc: NodeProcess, tracker: ChannelTracker): void {
  const untrack = tracker.add(() => proc.kill());
  channel.on('error', () => undefined);
  proc.stdout.on('error', () => undefined);
  proc.stderr.on('error', () => undefined);
  channel.pipe(proc.stdin);
  proc.stdout.pipe(channel, { end: false });
  proc.stderr.pipe(channel.stderr, { end: false });
  proc.onClose((exit) => {
    untrack();
    if ('code' in exit) channel.exit(exit.code);
    else channel.exit(exit.signal, false, '');
    channel.end();
  });
  channel.once('close', () => proc.kill());
}

/** A request that failed after the channel was accepted: the reason on stderr, exit status 255. */
function fail(channel: ServerChannel, err: unknown): void {
  channel.stderr.write(`sky: ${message(err)}\n`);
  channel.exit(255);
  channel.end();
}

/** One `session` channel: env and pty requests, then a shell, a command or the sftp subsystem on the node. */
export function serveSession(session: Session, backend: NodeBackend, tracker: ChannelTracker): void {
  const env: Record<string, string> = {};
  let pty: PtyRequest | undefined;
  let proc: NodeProcess | undefined;
  const start = (accept: () => ServerChannel | undefined, open: () => Promise<NodeProcess>): void => {
    const channel = accept();
    if (channel === undefined) return;
    open().then(
      (p) => {
        proc = p;
        pipe(channel, p, tracker);
      },
      (err: unknown) => fail(channel, err),
    );
  };
  session.on('env', (accept, reject, info) => {
    if (acceptedEnv(info.key) && info.val.length <= 4096) {
      env[info.key] = info.val;
      accept?.();
    } else reject?.();
  });
  session.on('pty', (accept, _reject, info) => {
    pty = { term: /^[\w.+-]{1,64}$/.test(info.term) ? info.term : 'xterm', cols: info.cols, rows: info.rows, width: info.width, height: info.height };
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    proc?.resize(info.rows, info.cols, info.height, info.width);
    accept?.();
  });
  session.on('signal', (accept, reject, info) => {
    const name = info.name.replace(/^SIG/, '');
    if (!SIGNALS.has(name) || proc === undefined) {
      reject?.();
      return;
    }
    proc.signal(name);
    accept?.();
  });
  session.on('shell', (accept) => start(accept, () => backend.shell(pty, env)));
  session.on('exec', (accept, _reject, info) => start(accept, () => backend.exec(info.command, pty, env)));
  session.on('subsystem', (accept, reject, info) => {
    if (info.name !== 'sftp') {
      reject?.();
      return;
    }
    start(accept, () => backend.sftp());
  });
  // X11 and agent forwarding would hand the node a way back into the user's machine: refused.
  session.on('x11', (_accept, reject) => reject?.());
  session.on('auth-agent', (_accept, reject) => reject?.());
}

/** `ssh -L`: a TCP connection from the node to the destination the user's client names. */
export function serveForward(accept: () => ServerChannel, reject: () => void, backend: NodeBackend, tracker: ChannelTracker, host: string, port: number): void {
  backend.connect(host, port).then(
    (socket: Duplex) => {
      const channel = accept();
      const untrack = tracker.add(() => socket.destroy());
      channel.on('error', () => undefined);
      socket.on('error', () => channel.destroy());
      channel.pipe(socket).pipe(channel);
      socket.once('close', () => {
        untrack();
        channel.destroy();
      });
      channel.once('close', () => socket.destroy());
    },
    () => reject(),
  );
}

/** The requests of one SSH connection in a tunnel: sessions and local forwards; everything else is refused. */
export function serveConnection(conn: Connection, backend: NodeBackend, tracker: ChannelTracker): void {
  // The tunnel itself was authenticated (the user's API credentials) and authorized (the
  // cluster's owner, an admin, within its workspace) before it opened; the SSH layer inside it
  // only encrypts and multiplexes, so any method is accepted ("none" comes first).
  conn.on('authentication', (ctx) => ctx.accept());
  // Channels open (or being opened) on this connection: sessions and forwards alike.
  let channels = 0;
  const opened = (channel: { once(event: 'close', listener: () => void): unknown }): void => {
    channel.once('close', () => (channels -= 1));
  };
  conn.on('ready', () => {
    conn.on('session', (accept, reject) => {
      if (channels >= MAX_CHANNELS_PER_TUNNEL) {
        reject();
        return;
      }
      channels += 1;
      const session = accept();
      opened(session);
      serveSession(session, backend, tracker);
    });
    conn.on('tcpip', (accept, reject, info) => {
      if (channels >= MAX_CHANNELS_PER_TUNNEL || !Number.isInteger(info.destPort) || info.destPort < 1 || info.destPort > 65535) {
        reject();
        return;
      }
      channels += 1;
      const accepted = (): ServerChannel => {
        const channel = accept();
        opened(channel);
        return channel;
      };
      const refused = (): void => {
        channels -= 1;
        reject();
      };
      serveForward(accepted, refused, backend, tracker, info.destIP, info.destPort);
    });
    // Remote forwards (ssh -R), streamlocal and the like would let the node reach back: refused.
    conn.on('request', (_accept, reject) => reject?.());
  });
  conn.on('error', () => undefined);
}
