import { PassThrough, Writable, type Duplex } from 'node:stream';
import type { HelperSession, HelperSessionOptions, NodeHelper } from '@sky/plugin-api';
import { HELPER_SESSION_SIGNALS, SkyError, toSkyError } from '@sky/protocol';
import type { NodeBackend, NodeExit, NodeProcess, PtyRequest } from './node-backend.js';
import { executable, shellQuote as quote } from '@sky/runtime';
import { SFTP_SERVERS } from './programs.js';


type SessionSignal = (typeof HELPER_SESSION_SIGNALS)[number];
const SESSION_SIGNALS = new Set<string>(HELPER_SESSION_SIGNALS);

/** Resolves once a readable stream has ended (at once when it already has). */
function drained(stream: NodeJS.ReadableStream & { readableEnded: boolean }): Promise<void> {
  return stream.readableEnded ? Promise.resolve() : new Promise((resolve) => stream.once('end', () => resolve()));
}

/**
 * A helper session as the gateway's NodeProcess: stdin paced by the helper's answers; a refusal
 * (or a lost helper) reaches the user on stderr with exit status 255, as sshd would print its own.
 */
export function sessionProcess(session: HelperSession): NodeProcess {
  const stdin = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      session.write(chunk).then(
        () => callback(),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
    final(callback) {
      session.endInput().then(
        () => callback(),
        () => callback(),
      );
    },
  });
  stdin.on('error', () => undefined);
  const stderr = new PassThrough();
  session.stderr.pipe(stderr, { end: false });
  const outcome = session.ended.then(
    (end): { exit: NodeExit; why?: string } => ({ exit: end }),
    (err: unknown) => ({ exit: { code: 255 }, why: toSkyError(err)?.message ?? String(err) }),
  );
  const closed = outcome.then(async ({ exit, why }): Promise<NodeExit> => {
    await drained(session.stderr);
    if (why !== undefined) stderr.write(`sky: ${why}\n`);
    stderr.end();
    await Promise.all([drained(session.stdout), drained(stderr)]);
    return exit;
  });
  return {
    stdin,
    stdout: session.stdout,
    stderr,
    onClose: (listener) => void closed.then(listener),
    resize: (rows, cols) => session.resize(rows, cols),
    signal: (name) => {
      const full = `SIG${name}`;
      if (SESSION_SIGNALS.has(full)) session.signal(full as SessionSignal);
    },
    kill: () => session.abort(),
  };
}

/**
 * A local node of a team server: it belongs to a member's OS account, and sky-node-helper runs
 * the user's shell, commands and SFTP server as that account in the node directory (the same
 * identity and environment as the cluster's jobs). The daemon never runs anything there itself.
 * Port forwarding is refused: the daemon could only connect as its own account, not the member's.
 */
export class AccountNodeBackend implements NodeBackend {
  constructor(
    private readonly helper: NodeHelper,
    private readonly account: string,
    private readonly node: string,
  ) {}

  private async start(options: HelperSessionOptions): Promise<NodeProcess> {
    return sessionProcess(await this.helper.session(this.account, this.node, options));
  }

  private static options(pty: PtyRequest | undefined, env: Readonly<Record<string, string>>, command?: string): HelperSessionOptions {
    return {
      ...(command === undefined ? {} : { command }),
      ...(pty === undefined ? {} : { pty: { term: /^[A-Za-z0-9._+-]{1,64}$/.test(pty.term) ? pty.term : 'xterm', rows: clamp(pty.rows), cols: clamp(pty.cols) } }),
      // What the helper takes: LANG and LC_* (the gateway's filter) with values of at most 256 characters.
      env: Object.fromEntries(Object.entries(env).filter(([name, value]) => /^(LANG|LC_[A-Z_]{1,32})$/.test(name) && value.length <= 256 && !value.includes('\0'))),
    };
  }

  shell(pty: PtyRequest | undefined, env: Readonly<Record<string, string>>): Promise<NodeProcess> {
    return this.start(AccountNodeBackend.options(pty, env));
  }

  exec(command: string, pty: PtyRequest | undefined, env: Readonly<Record<string, string>>): Promise<NodeProcess> {
    return this.start(AccountNodeBackend.options(pty, env, command));
  }

  sftp(): Promise<NodeProcess> {
    const server = SFTP_SERVERS.find(executable);
    if (server === undefined) {
      return Promise.reject(
        new SkyError('NOT_SUPPORTED', 'this machine has no sftp-server, which serves SFTP (and scp) for local nodes', {
          hint: 'Install openssh-sftp-server on the API server host, or copy with the legacy protocol: scp -O, or rsync -e ssh.',
        }),
      );
    }
    return this.start({ command: `exec ${quote(server)}` });
  }

  connect(host: string, port: number): Promise<Duplex> {
    return Promise.reject(
      new SkyError('NOT_SUPPORTED', `port forwarding (to ${host}:${port}) from local node ${this.node} is not supported on a team server: the connection would come from the API server's account, not ${this.account}`, {
        hint: 'Reach a job\'s port from a shell on the node (ssh CLUSTER curl localhost:PORT), or run the cluster on an SSH node pool, where ssh -L works.',
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function clamp(n: number): number {
  return Math.min(10_000, Math.max(1, Math.trunc(n) || 1));
}
