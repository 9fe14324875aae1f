import type { Duplex, Readable, Writable } from 'node:stream';

/** What the user's ssh client asked for with `pty-req`. */
export interface PtyRequest {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
}

/** How a process on a node ended: an exit code, or the signal (without "SIG") that ended it. */
export type NodeExit = { code: number } | { signal: string };

/** A shell, command or subsystem running on a node for one SSH session channel. */
export interface NodeProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Called once, after the process ended and its output streams were read to the end. */
  onClose(listener: (exit: NodeExit) => void): void;
  /** The terminal was resized (where the node side can follow it). */
  resize(rows: number, cols: number, height: number, width: number): void;
  /** Deliver a signal (name without "SIG") the user's client sent. */
  signal(name: string): void;
  /** End it at once (the tunnel closed). */
  kill(): void;
}

/** What a cluster's node offers an SSH session: the driver-specific half of the gateway. */
export interface NodeBackend {
  /** A login shell (with a pty when `pty` is given). */
  shell(pty: PtyRequest | undefined, env: Readonly<Record<string, string>>): Promise<NodeProcess>;
  /** A command as the login shell runs it (scp and rsync run theirs this way). */
  exec(command: string, pty: PtyRequest | undefined, env: Readonly<Record<string, string>>): Promise<NodeProcess>;
  /** The SFTP subsystem (what `scp` uses by default, and `sftp`). */
  sftp(): Promise<NodeProcess>;
  /** A TCP connection from the node to host:port (`ssh -L`). */
  connect(host: string, port: number): Promise<Duplex>;
  /** Release what the backend holds (its SSH connection). */
  close(): Promise<void>;
}

/** Signal names a client may send (RFC 4254 §6.10), without "SIG". */
export const SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

/** Environment a client may set (what OpenSSH's sshd accepts by default: AcceptEnv LANG LC_*), plus TERM from the pty. */
export function acceptedEnv(name: string): boolean {
  return name === 'LANG' || /^LC_[A-Z_]{1,32}$/.test(name);
}
