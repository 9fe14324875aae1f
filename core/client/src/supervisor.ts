import { existsSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SkyError } from '@sky/protocol/wire';
import { processStart } from './daemon-check.js';
import { skyPaths } from './paths.js';
import { isPidAlive } from './process.js';

/** What the supervisor of `sky daemon start` writes about itself. */
export interface SupervisorRecord {
  pid: number;
  procStart?: string;
  startedAt: number;
  args: string[];
}

/**
 * How `sky daemon start` last started this machine's API server. `supervised`: in the background
 * under sky's supervisor (a command that finds it down starts it again the same way);
 * `foreground`: attached to a terminal or to systemd / Kubernetes (a command never starts it).
 */
export interface StartRecord {
  mode: 'supervised' | 'foreground';
  /** The daemon's flags, paths absolute. */
  args: string[];
  /** The config file among them, if any. */
  config?: string;
  cwd: string;
  recordedAt: number;
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

export async function readSupervisorRecord(home?: string): Promise<SupervisorRecord | undefined> {
  const value = (await readJson(skyPaths(home).supervisorFile)) as Partial<SupervisorRecord> | undefined;
  if (typeof value !== 'object' || value === null || typeof value.pid !== 'number' || typeof value.startedAt !== 'number' || !isStrings(value.args)) return undefined;
  return value as SupervisorRecord;
}

/**
 * The supervisor named in supervisor.json if that very process still runs (its pid alive with the
 * recorded start time); a stale file is removed, and the pid it names is never signalled.
 */
export async function liveSupervisor(home?: string): Promise<SupervisorRecord | undefined> {
  const record = await readSupervisorRecord(home);
  if (record === undefined) return undefined;
  // Proven by pid and start time both: a record without a start time (no /proc) is never trusted with a signal.
  const alive = isPidAlive(record.pid) && record.procStart !== undefined && (await processStart(record.pid)) === record.procStart;
  if (alive) return record;
  const again = await readSupervisorRecord(home);
  if (again?.pid === record.pid && again.startedAt === record.startedAt) await unlink(skyPaths(home).supervisorFile).catch(() => undefined);
  return undefined;
}

export async function readStartRecord(home?: string): Promise<StartRecord | undefined> {
  const value = (await readJson(skyPaths(home).startRecordFile)) as Partial<StartRecord> | undefined;
  if (typeof value !== 'object' || value === null || (value.mode !== 'supervised' && value.mode !== 'foreground') || !isStrings(value.args) || typeof value.cwd !== 'string') return undefined;
  return value as StartRecord;
}

/** Record how the API server is being started (0600, in ~/.sky/api_server). */
export async function writeStartRecord(record: StartRecord, home?: string): Promise<void> {
  const file = skyPaths(home).startRecordFile;
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

/**
 * Whether a command that finds no API server may start it from this record: undefined when it may
 * (or there is none), else the refusal saying how to start it.
 */
export function recordRefusal(record: StartRecord, home?: string): SkyError | undefined {
  const file = skyPaths(home).startRecordFile;
  const command = `sky daemon start ${record.mode === 'foreground' ? '--foreground ' : ''}${record.args.join(' ')}`.trim();
  if (record.mode === 'foreground') {
    return new SkyError('SERVER_START_FAILED', `the API server of this machine runs in the foreground (${command}), under systemd, Kubernetes or a terminal, and it is not answering; a command does not start it in its place`, {
      hint: `Start it the way it is run (e.g. systemctl start sky, or ${command}); to let commands start a personal server instead, remove ${file}.`,
      details: { record: file },
    });
  }
  if (record.config !== undefined && !existsSync(record.config)) {
    return new SkyError('SERVER_START_FAILED', `the API server was started with --config ${record.config}, which no longer exists; it is not started without it`, {
      hint: `Start it with its configuration: sky daemon start --config FILE; to let commands start a personal server instead, remove ${file}.`,
      details: { record: file, config: record.config },
    });
  }
  return undefined;
}

/** The supervisor spec: one JSON argument naming the daemon, its node flags and its flags. */
export function supervisorSpec(daemonMain: string, nodeArgs: readonly string[], args: readonly string[], home?: string): string {
  return JSON.stringify({ main: daemonMain, nodeArgs, args, recordFile: skyPaths(home).supervisorFile });
}

/** The supervisor's entry next to the daemon's (both come with @sky/daemon). */
export function supervisorMainNear(daemonMain: string): string {
  return `${dirname(daemonMain)}/${daemonMain.endsWith('.ts') ? 'supervisor.ts' : 'supervisor.js'}`;
}
