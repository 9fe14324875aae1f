import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The runtime protocol version `sky-node.sh version` prints; bumped when commands or layout change. */
export const RUNTIME_VERSION = 4;

/**
 * Where a version of the script lives on a node, relative to the node root (an SSH node's login
 * directory). Each version has its own path, so installing a newer one never replaces the script
 * that jobs started by an older one are read and cancelled with. Version 1 lived at `.sky/bin`.
 */
export function nodeScriptPath(version: number = RUNTIME_VERSION): string {
  return version === 1 ? '.sky/bin/sky-node.sh' : `.sky/runtime/${version}/sky-node.sh`;
}

/** Where the daemon puts the current script on a node, relative to the node root. */
export const NODE_SCRIPT_PATH = nodeScriptPath();

/** Jobs live in `<nodeRoot>/.sky/jobs/<name>/`, one directory per rank. */
export const JOBS_DIR = '.sky/jobs';

/** Event journals live in `<nodeRoot>/.sky/events/<node>.log`, one per node (see journalPath). */
export const EVENTS_DIR = '.sky/events';

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
