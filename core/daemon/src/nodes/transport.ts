/** The answer of one command on a node. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
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
  /** Copy a local directory to `dest` on the node, skipping files whose size and mtime match. Returns files copied. */
  syncDir(source: string, dest: string): Promise<number>;
  /** Copy one local file or directory to `dest` on the node. */
  copy(source: string, dest: string): Promise<void>;
}
