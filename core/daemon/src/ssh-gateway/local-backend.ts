import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { SkyError } from '@sky/protocol';
import type { NodeBackend, NodeExit, NodeProcess, PtyRequest } from './node-backend.js';
import { executable, firstExecutable, SCRIPT_PATHS, shellQuote as quote, terminalUnder } from '@sky/runtime';
import { SFTP_SERVERS } from './programs.js';


/** The login shell of the daemon's account: $SHELL when it is an absolute, runnable path, else /bin/sh. */
function loginShell(): string {
  const shell = process.env.SHELL;
  return shell !== undefined && shell.startsWith('/') && executable(shell) ? shell : '/bin/sh';
}

function childProcess(child: ChildProcess, onResize?: (rows: number, cols: number) => void): NodeProcess {
  let exit: NodeExit = { code: 255 };
  child.on('exit', (code, signal) => {
    exit = code !== null ? { code } : { signal: (signal ?? 'SIGKILL').replace(/^SIG/, '') };
  });
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  const group = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined || child.exitCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  return {
    stdin: child.stdin!,
    stdout: child.stdout!,
    stderr: child.stderr!,
    onClose: (listener) => child.once('close', () => listener(exit)),
    resize: (rows, cols) => onResize?.(rows, cols),
    signal: (name) => group(`SIG${name}` as NodeJS.Signals),
    kill: () => group('SIGHUP'),
  };
}

/**
 * A node of the local driver that runs as the daemon's own account (a personal API server):
 * the user's shell and commands are child processes under that same account — the one the
 * cluster's jobs run as — in the node's directory, with the jobs' umask. A terminal comes from
 * util-linux's `script` (no native addon); forwarded ports are connected from this machine.
 */
export class LocalNodeBackend implements NodeBackend {
  constructor(
    private readonly root: string,
    private readonly umask: number | undefined,
  ) {}

  private spawn(argv: readonly string[], env: Readonly<Record<string, string>>): ChildProcess {
    const mask = this.umask === undefined ? '' : `umask ${this.umask.toString(8).padStart(4, '0')}; `;
    return spawn('/bin/sh', ['-c', `${mask}exec "$@"`, 'sky-ssh', ...argv], {
      cwd: this.root,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  }

  /** `command` on a new pseudo-terminal sized as the client's, through `script`. */
  private withPty(command: string, pty: PtyRequest, env: Readonly<Record<string, string>>): NodeProcess {
    const script = firstExecutable(SCRIPT_PATHS);
    if (script === undefined) {
      throw new SkyError('NOT_SUPPORTED', 'this machine has no `script` (util-linux), which gives local-node sessions a terminal', {
        hint: 'Install util-linux (bsdutils on Debian) on the API server host, or connect without a terminal: ssh -T CLUSTER COMMAND.',
      });
    }
    const size = `stty rows ${pty.rows} cols ${pty.cols} 2>/dev/null; `;
    const child = this.spawn([script, '--quiet', '--return', '--flush', '--command', size + command, '/dev/null'], { ...env, TERM: pty.term || 'xterm', SHELL: loginShell() });
    const resize = (rows: number, cols: number): void => {
      if (child.pid === undefined) return;
      // script's child holds the terminal; resizing it signals the foreground program (SIGWINCH).
      const tty = terminalUnder(child.pid);
      if (tty === undefined) return;
      spawn('stty', ['-F', tty, 'rows', String(rows), 'cols', String(cols)], { stdio: 'ignore' }).on('error', () => undefined);
    };
    return childProcess(child, resize);
  }

  shell(pty: PtyRequest | undefined, env: Readonly<Record<string, string>>): Promise<NodeProcess> {
    const shell = loginShell();
    if (pty !== undefined) return Promise.resolve(this.withPty(`exec ${quote(shell)} -l`, pty, env));
    return Promise.resolve(childProcess(this.spawn([shell, '-l'], env)));
  }

  exec(command: string, pty: PtyRequest | undefined, env: Readonly<Record<string, string>>): Promise<NodeProcess> {
    const shell = loginShell();
    if (pty !== undefined) return Promise.resolve(this.withPty(`exec ${quote(shell)} -c ${quote(command)}`, pty, env));
    return Promise.resolve(childProcess(this.spawn([shell, '-c', command], env)));
  }

  sftp(): Promise<NodeProcess> {
    const server = firstExecutable(SFTP_SERVERS);
    if (server === undefined) {
      return Promise.reject(
        new SkyError('NOT_SUPPORTED', 'this machine has no sftp-server, which serves SFTP (and scp) for local nodes', {
          hint: 'Install openssh-sftp-server on the API server host, or copy with the legacy protocol: scp -O, or rsync -e ssh.',
        }),
      );
    }
    return Promise.resolve(childProcess(this.spawn([server], {})));
  }

  connect(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
