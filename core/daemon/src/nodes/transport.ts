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

/**
 * How the daemon talks to one node: run shell commands, write files, read files from an
 * offset. Paths are relative to the node root unless absolute.
 */
export interface NodeTransport {
  run(command: string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<CommandResult>;
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
