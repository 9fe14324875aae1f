import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The runtime protocol version `sky-node.sh version` prints; bumped when commands or layout change. */
export const RUNTIME_VERSION = 1;

/** Where the daemon puts the script on a node, relative to the node root (an SSH node's login directory). */
export const NODE_SCRIPT_PATH = '.sky/bin/sky-node.sh';

/** Jobs live in `<nodeRoot>/.sky/jobs/<jobId>/`. */
export const JOBS_DIR = '.sky/jobs';

/** The work directory tasks run in when it exists, relative to the node root (where `workdir` is synced). */
export const WORKDIR = 'sky_workdir';

/** Absolute path of the script shipped in this package (the same from src/ and dist/). */
export function runtimeScriptPath(): string {
  return fileURLToPath(new URL('../assets/sky-node.sh', import.meta.url));
}

/** The script's text, to upload to a node. */
export function runtimeScript(): Promise<string> {
  return readFile(runtimeScriptPath(), 'utf8');
}
