#!/usr/bin/env node
/**
 * sky's supervisor: the small process `sky daemon start` leaves running. It runs the API server
 * as its child with the configuration it was given, and starts it again with the same
 * configuration when it dies (a crash, a kill, the watchdog ending a blocked event loop), waiting
 * 1 s before the first restart and twice as long before each next one, up to 60 s; a run that
 * stayed up for a minute resets the wait. Each restart is logged with the exit reason. A daemon
 * that exits cleanly (it was asked to stop) ends the supervisor too; so does SIGTERM or SIGINT,
 * after the daemon has drained. It imports nothing but Node's own modules: it must stay small
 * and must not share the daemon's failures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { stalledFile } from './plugins/marker-names.js';

/** What the supervisor is started with: one JSON argument. */
export interface SupervisorSpec {
  /** The daemon's entry point. */
  main: string;
  nodeArgs: string[];
  /** The daemon's flags, kept for every restart. */
  args: string[];
  /** Where the supervisor records itself ({pid, procStart, startedAt, args}); removed when it ends. */
  recordFile: string;
}

/** What the supervisor writes to its record file. */
export interface SupervisorRecord {
  pid: number;
  procStart?: string;
  startedAt: number;
  args: string[];
}

const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;
const HEALTHY_RUN_MS = 60_000;
/** Added to watchdog.stall_seconds before the supervisor kills a daemon whose heartbeats (one a second) stopped. */
const HEARTBEAT_GRACE_MS = 2_000;

function say(line: string): void {
  try {
    process.stderr.write(`${new Date().toISOString()} sky supervisor (pid ${process.pid}): ${line}\n`);
  } catch {
    // the log is best effort
  }
}

function ownProcStart(): string | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const value = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19];
    return value !== undefined && /^\d+$/.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function parseSpec(text: string | undefined): SupervisorSpec {
  const usage = 'usage: sky-supervisor SPEC_JSON (started by sky daemon start; not run by hand)';
  if (text === undefined) throw new Error(usage);
  const value = JSON.parse(text) as Partial<SupervisorSpec>;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (typeof value.main !== 'string' || typeof value.recordFile !== 'string' || !strings(value.args) || !strings(value.nodeArgs)) throw new Error(usage);
  return { main: value.main, nodeArgs: value.nodeArgs, args: value.args, recordFile: value.recordFile };
}

/** The flags for a restart: a state import (--import FILE) is done by the first run only. */
function restartArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--import') i++;
    else if (!args[i]!.startsWith('--import=')) out.push(args[i]!);
  }
  return out;
}

/** `: its event loop is held by drivers.x (pkg@1.0.0) in provision`, from the daemon's marker file, or ''. */
function blockedIn(marker: string | undefined): string {
  if (marker === undefined) return '';
  try {
    const text = readFileSync(marker, 'utf8').trim();
    if (text === '') return ': no plugin call was running';
    const r = JSON.parse(text) as { id?: unknown; packageName?: unknown; version?: unknown; op?: unknown };
    return `: its event loop is held by drivers.${String(r.id)} (${String(r.packageName)}${typeof r.version === 'string' ? `@${r.version}` : ''}) in ${String(r.op)}`;
  } catch {
    return '';
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
}

function run(spec: SupervisorSpec): void {
  const record: SupervisorRecord = { pid: process.pid, startedAt: Date.now(), args: spec.args };
  const procStart = ownProcStart();
  if (procStart !== undefined) record.procStart = procStart;
  const tmp = `${spec.recordFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record) + '\n', { mode: 0o600 });
  renameSync(tmp, spec.recordFile);

  let child: ChildProcess | undefined;
  let stopping = false;
  let everReady = false;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let runs = 0;

  const finish = (code: number): void => {
    try {
      const now = JSON.parse(readFileSync(spec.recordFile, 'utf8')) as Partial<SupervisorRecord>;
      if (now.pid === process.pid) rmSync(spec.recordFile, { force: true });
    } catch {
      // already gone
    }
    process.exit(code);
  };

  const start = (): void => {
    restartTimer = undefined;
    const startedAt = Date.now();
    let readyAt: number | undefined;
    let lastWord = Date.now();
    let stallMs = 0;
    let marker: string | undefined;
    const args = runs++ === 0 ? spec.args : restartArgs(spec.args);
    const proc = spawn(process.execPath, [...spec.nodeArgs, spec.main, ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, SKY_SUPERVISOR_PID: String(process.pid) },
    });
    child = proc;
    proc.on('message', (message: unknown) => {
      lastWord = Date.now();
      const m = message as { type?: unknown; stallSeconds?: unknown; markerFile?: unknown } | null;
      if (m?.type === 'hello') {
        stallMs = typeof m.stallSeconds === 'number' && m.stallSeconds > 0 ? m.stallSeconds * 1000 : 0;
        marker = typeof m.markerFile === 'string' ? m.markerFile : undefined;
      } else if (m?.type === 'ready') {
        readyAt = Date.now();
        everReady = true;
        say(`the API server (pid ${proc.pid ?? '?'}) is ready`);
      }
    });
    proc.on('error', (err) => say(`cannot start the API server: ${err.message}`));
    // The watchdog: a daemon whose event loop is blocked sends no heartbeat. The plugin whose
    // code holds it (if one does) is named in its marker file, which the next daemon reads to
    // quarantine that plugin.
    const watch = setInterval(() => {
      if (stallMs === 0 || proc.exitCode !== null || proc.signalCode !== null) return;
      const silent = Date.now() - lastWord;
      if (silent > stallMs + HEARTBEAT_GRACE_MS) {
        say(`the API server (pid ${proc.pid ?? '?'}) sent no heartbeat for ${Math.round(silent / 1000)} s (watchdog.stall_seconds is ${stallMs / 1000})${blockedIn(marker)}; killing it`);
        // The verdict the next daemon quarantines on: the blocked process writes nothing more.
        if (marker !== undefined) {
          try {
            renameSync(marker, stalledFile(marker));
          } catch {
            // no marker (no plugin code ran): nothing to name
          }
        }
        proc.kill('SIGKILL');
      }
    }, 1_000);
    proc.once('exit', (code, signal) => {
      clearInterval(watch);
      child = undefined;
      const ran = Date.now() - startedAt;
      const how = describeExit(code, signal);
      if (stopping) {
        say(`the API server ${how}; stopping`);
        finish(0);
        return;
      }
      if (code === 0) {
        say(`the API server exited cleanly (it was asked to stop); the supervisor stops too`);
        finish(0);
        return;
      }
      if (!everReady && signal === null) {
        // It gave up on its configuration (it exits with a status, not by a signal): restarting it would only repeat the failure.
        say(`the API server ${how} before it was ready; not restarting it (fix the cause above and run sky daemon start again)`);
        finish(code ?? 1);
        return;
      }
      if (readyAt !== undefined && Date.now() - readyAt >= HEALTHY_RUN_MS) failures = 0;
      const wait = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** failures);
      failures++;
      say(`the API server (pid ${proc.pid ?? '?'}) ${how} after ${Math.round(ran / 1000)} s; restarting it with the same configuration in ${wait / 1000} s (restart ${failures} in a row)`);
      restartTimer = setTimeout(start, wait);
    });
  };

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping the API server`);
    if (restartTimer !== undefined) clearTimeout(restartTimer);
    if (child === undefined) finish(0);
    else child.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A closed terminal is no reason to stop a server.
  process.on('SIGHUP', () => undefined);
  say(`supervising the API server: ${spec.args.join(' ') || '(default configuration)'}`);
  start();
}

try {
  run(parseSpec(process.argv[2]));
} catch (err) {
  process.stderr.write(`sky supervisor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
