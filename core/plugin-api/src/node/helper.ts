import type { Readable } from 'node:stream';
import type { HELPER_SESSION_SIGNALS, HelperResult, HelperSignal } from '@sky/protocol';

/** One file to place on an account node; the same shape as the daemon's NodeTransport SyncFile. */
export interface HelperSyncFile {
  /** Relative to the destination, '/'-separated; never empty, '.' or '..' segments. */
  path: string;
  /** Permission bits (e.g. 0o644). */
  mode: number;
  mtimeMs: number;
  size: number;
  open(): NodeJS.ReadableStream;
}

/** Options of a command run through the helper. */
export interface HelperRunOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** What a session on an account node is to run: a login shell (no command) or a command, with or without a terminal. */
export interface HelperSessionOptions {
  command?: string;
  pty?: { term: string; rows: number; cols: number };
  /** LANG and LC_* only. */
  env?: Record<string, string>;
}

/** How a session ended: its exit code, or the signal (without "SIG") that ended it. */
export type HelperSessionEnd = { code: number } | { signal: string };

/** An interactive session running as an account on one of its nodes (see NodeHelper.session). */
export interface HelperSession {
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves when the session ended (after its output), rejects when the helper refused or lost it. */
  readonly ended: Promise<HelperSessionEnd>;
  /** Bytes for its stdin; resolves once the session took them. */
  write(data: Uint8Array): Promise<void>;
  /** The end of its stdin. */
  endInput(): Promise<void>;
  resize(rows: number, cols: number): void;
  signal(name: (typeof HELPER_SESSION_SIGNALS)[number]): void;
  /** End it (its whole process group) at once. */
  abort(): void;
}

/**
 * The calls of `sky-node-helper`, the root process that runs team members' jobs under their own
 * OS accounts (see @sky/protocol helper.ts for the messages). A node is an absolute directory
 * `<node root>/<account>/<cluster>/<node>`; paths on it are relative to it unless absolute (and
 * then inside it). Errors are SkyErrors: NODE_UNREACHABLE when the helper cannot be reached,
 * NODE_HELPER_REFUSED when the account or path is outside what it allows (or the account itself
 * may not do it), NODE_RUNTIME_ERROR when it tried and failed.
 *
 * The daemon lends its connection to drivers through PluginContext.nodeHelper.
 */
export interface NodeHelper {
  /** The socket this helper listens on, for messages. */
  readonly socketPath: string;
  /** The helper's identity: protocol version, node root, which accounts it allows. */
  hello(): Promise<HelperResult<'hello'>>;
  /** Check (or create, when the helper may) an account and its directory under the node root. */
  ensureAccount(account: string): Promise<HelperResult<'ensureAccount'>>;
  /** Create a node directory as the account (0700); resolves with its path. */
  makeNodeDir(account: string, node: string): Promise<string>;
  statNodeDir(account: string, node: string): Promise<boolean>;
  /** Remove a cluster directory or a node directory as the account; false when there was none. */
  removeNodeDir(account: string, dir: string): Promise<boolean>;
  /** `sh -c command` as the account in the node directory, with a clean environment. */
  run(account: string, node: string, command: string, options?: HelperRunOptions): Promise<{ code: number; stdout: string; stderr: string }>;
  /**
   * `sh -c command` as the account in the node directory, its stdout yielded as it arrives; ends
   * when the command exits 0 (another code: NODE_RUNTIME_ERROR with the end of its stderr).
   * Aborting `signal`, leaving the loop early, or the connection's end ends the command's whole
   * process group; an abort ends the iteration quietly.
   */
  stream(account: string, node: string, command: string, signal: AbortSignal): AsyncIterable<Buffer>;
  /** Bytes of a file from `offset` (at most `max`); size -1 when it does not exist. */
  read(account: string, node: string, path: string, offset: number, max: number): Promise<{ data: Buffer; size: number }>;
  writeFiles(account: string, node: string, dir: string, files: ReadonlyArray<{ path: string; mode: number; data: string | Uint8Array }>): Promise<void>;
  /** Place files (and empty `dirs`) under `dest`, skipping those whose size and mtime match; resolves with the number written. */
  syncFiles(account: string, node: string, dest: string, files: readonly HelperSyncFile[], dirs?: readonly string[]): Promise<number>;
  /**
   * A login shell or a command as the account in the node directory, its stdin, stdout and stderr
   * streamed both ways (what `ssh CLUSTER` gets on an account node). A refusal (an account or
   * node the helper does not allow) rejects `ended`.
   */
  session(account: string, node: string, options: HelperSessionOptions): Promise<HelperSession>;
  /** Signal a process group of the account (0: only ask); resolves with whether the group was alive. */
  signal(account: string, pgid: number, signal: HelperSignal): Promise<boolean>;
}
