// `sky logs --sync-down`: a job's log copied to this machine, as SkyPilot's ~/sky_logs. The log
// comes through the API server like `sky logs` (so it works against a remote team server and is
// authorized the same way); nothing is read from the nodes directly.
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { JobLogLine } from '@sky/protocol';
import { validateClusterName } from '@sky/protocol/task-core';
import type { SkyClient } from '@sky/client';

/** Where a job's log goes: ~/sky_logs/CLUSTER/JOB_ID/. */
export function syncDir(cluster: string, jobId: number, home: string = homedir()): string {
  // The name becomes a directory: only a valid cluster name (no '/', never '..') gets there.
  if (!Number.isSafeInteger(jobId) || jobId < 1) throw new RangeError(`invalid job ID ${jobId}`);
  return join(home, 'sky_logs', validateClusterName(cluster), String(jobId));
}

/**
 * The files of a job's log: run.log holds every line as `sky logs` shows it (rank-prefixed for
 * a multi-node job), and a multi-node job also gets rank-N.log per node.
 */
export function logFiles(lines: readonly JobLogLine[], numNodes: number): Map<string, string> {
  const line = (text: string): string => (text.endsWith('\n') ? text : `${text}\n`);
  const files = new Map<string, string>();
  const multi = numNodes > 1;
  files.set('run.log', lines.map((l) => (multi ? `(rank ${l.rank}) ${line(l.text)}` : line(l.text))).join(''));
  if (multi) {
    for (let rank = 0; rank < numNodes; rank++) {
      files.set(`rank-${rank}.log`, lines.filter((l) => l.rank === rank).map((l) => line(l.text)).join(''));
    }
  }
  return files;
}

/** Copy what the job has logged so far (it may still run); returns the directory written. */
export async function syncDownJob(client: SkyClient, cluster: string, jobId: number, numNodes: number, home?: string): Promise<{ dir: string; files: string[] }> {
  const lines: JobLogLine[] = [];
  await client.streamJobLogs(cluster, jobId, { follow: false }, (l) => lines.push(l));
  const dir = syncDir(cluster, jobId, home);
  // Logs may hold what a job printed about its data or credentials: this user's eyes only.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = logFiles(lines, numNodes);
  for (const [name, text] of files) writeFileSync(join(dir, name), text, { mode: 0o600 });
  return { dir, files: [...files.keys()] };
}
