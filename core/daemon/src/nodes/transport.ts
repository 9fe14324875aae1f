/** The answer of one command on a node. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One file to place on a node, with its bytes read in the daemon. */
export interface SyncFile {
  /** Relative to the destination, '/'-separated; never empty, '.' or '..' segments. */
  path: string;
  /** Permission bits (e.g. 0o644). */
  mode: number;
  mtimeMs: number;
  size: number;
  open(): NodeJS.ReadableStream;
}

/** Options of NodeTransport.stream. */
export interface StreamOptions {
  /** Aborting ends the command on the node (its whole process group) and ends the iteration quietly. */
  signal: AbortSignal;
}

/**
 * How the daemon talks to one node: run shell commands, follow a long-running command's output,
 * write files, read files from an offset. Paths are relative to the node root unless absolute.
 */
export interface NodeTransport {
  run(command: string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<CommandResult>;
  /**
   * Run `command` (POSIX sh, node root as cwd, no stdin) and yield its stdout in chunks as they
   * arrive; for commands that run long (`tail -f`, a journal follower). The iteration ends when
   * the command exits 0; another exit is NODE_RUNTIME_ERROR naming the code and the end of its
   * stderr; a lost connection is NODE_UNREACHABLE. Aborting `signal`, or leaving the loop early,
   * ends the command and everything it started on the node. A consumer that falls behind pauses
   * the command's output (bounded buffering), it is never dropped.
   */
  stream(command: string, options: StreamOptions): AsyncIterable<Buffer>;
  /** Write files under `dir` (created as needed); `privateFiles` get mode 0600. */
  writeFiles(dir: string, files: Record<string, string>, privateFiles?: readonly string[]): Promise<void>;
  /** Bytes of `path` from `offset` (at most `max`), and the file's size; size -1 when it does not exist. */
  readFrom(path: string, offset: number, max: number): Promise<{ data: Buffer; size: number }>;
  /**
   * Place files (and the empty directories `dirs`) under `dest` (relative to the node root unless
   * absolute), creating directories as needed; files whose size and mtime already match are
   * skipped. Returns how many files were written.
   */
  syncFiles(dest: string, files: readonly SyncFile[], dirs?: readonly string[]): Promise<number>;
}
