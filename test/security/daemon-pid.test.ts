import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { procStartTime } from '@sky/protocol';
import { SKY_BIN, freePort, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';

/*
 * Finding: `sky daemon start/stop` trusted a stale pid — `stop` SIGTERMed an unrelated process
 * whose pid was still in daemon.json. Replayed with a real `sleep` process and the sky binary:
 * nothing that is not proven to be the daemon (pid + process start time + its own health
 * answer) is ever signalled.
 */

const homes: string[] = [];
const sleepers: ChildProcess[] = [];
const daemons: DaemonHandle[] = [];

after(async () => {
  for (const s of sleepers) s.kill('SIGKILL');
  for (const d of daemons) await d.stop();
  await killAllDaemons();
  for (const home of homes) removeHome(home);
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sky(home: string, args: readonly string[]): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete env.SKYPILOT_API_SERVER_ENDPOINT;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SKY_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function unrelatedProcess(): ChildProcess {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  sleepers.push(child);
  return child;
}

function startTimeOf(pid: number): string {
  return procStartTime(readFileSync(`/proc/${pid}/stat`, 'utf8')) ?? assert.fail(`no start time for pid ${pid}`);
}

function home(): string {
  const h = tempHome();
  homes.push(h);
  mkdirSync(join(h, '.sky/api_server'), { recursive: true });
  return h;
}

const daemonFile = (h: string): string => join(h, '.sky/api_server/daemon.json');

/** A daemon.json as a daemon long gone would have left it, but naming `pid`. */
function writeDaemonJson(h: string, pid: number, fields: Record<string, unknown>): void {
  writeFileSync(daemonFile(h), JSON.stringify({ pid, host: '127.0.0.1', port: 1, url: 'http://127.0.0.1:1', startedAt: 1_700_000_000_000, version: '0.1.0', ...fields }) + '\n');
}

describe('a stale daemon.json naming an unrelated process', () => {
  it('sky daemon stop and sky api stop do not signal it, say why, and remove the stale file', async () => {
    const sleeper = unrelatedProcess();
    const pid = sleeper.pid ?? assert.fail('no pid');
    for (const command of [['daemon', 'stop'], ['api', 'stop']]) {
      const h = home();
      // The daemon that wrote it started at another time than the process now holding its pid.
      writeDaemonJson(h, pid, { procStart: String(Number(startTimeOf(pid)) - 1000) });
      const r = await sky(h, command);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^No API server running: \\S+daemon\\.json is stale \\(pid ${pid} now belongs to another process \\(sleep\\) that started after the API server exited\\); nothing was signalled and the stale file was removed\\.\\n$`));
      assert.ok(alive(sleeper), `sky ${command.join(' ')} left the unrelated process alone`);
      assert.equal(existsSync(daemonFile(h)), false);
    }
  });

  it('a daemon.json without a start time (older format) whose pid does not answer as the daemon: not signalled, kept, exit 1', async () => {
    const sleeper = unrelatedProcess();
    const pid = sleeper.pid ?? assert.fail('no pid');
    const h = home();
    writeDaemonJson(h, pid, { url: `http://127.0.0.1:${await freePort()}` });
    const r = await sky(h, ['daemon', 'stop']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^Not stopping pid ${pid}: pid ${pid} is alive but does not answer as the API server at http://127\\.0\\.0\\.1:\\d+ \\(`));
    assert.match(r.stderr, /hint: if it is a hung API server, stop it with: kill \d+; if it is not, remove \S+daemon\.json/);
    assert.ok(alive(sleeper));
    assert.ok(existsSync(daemonFile(h)), 'an unproven daemon.json is left for the user to judge');
  });

  it('its URL answered by another daemon (another pid): not signalled', async () => {
    const other = await startDaemon();
    daemons.push(other);
    const sleeper = unrelatedProcess();
    const pid = sleeper.pid ?? assert.fail('no pid');
    const h = home();
    // Even with the sleeper's true start time, the answer at the URL must come from that pid.
    writeDaemonJson(h, pid, { procStart: startTimeOf(pid), url: other.url, port: other.port });
    const r = await sky(h, ['api', 'stop']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Not stopping pid ${pid}: pid ${pid} started as the API server but does not answer as it at ${other.url} \\(the server there is pid ${other.pid}`));
    assert.ok(alive(sleeper));
    assert.equal(other.child.exitCode, null, 'the daemon at that URL was not signalled either');
  });

  it('sky daemon status calls it not running; sky daemon start starts a real daemon instead of trusting it, and stop then stops that one', async () => {
    const sleeper = unrelatedProcess();
    const pid = sleeper.pid ?? assert.fail('no pid');
    const h = home();
    writeDaemonJson(h, pid, { procStart: '1' });
    const status = await sky(h, ['daemon', 'status']);
    assert.equal(status.code, 1);
    assert.match(status.stdout, new RegExp(`^No API server running on this machine \\(\\S+daemon\\.json is stale: pid ${pid} now belongs to another process`));
    const port = await freePort();
    const start = await sky(h, ['daemon', 'start', '--port', String(port)]);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stderr, /Removed a stale \S+daemon\.json \(pid \d+ now belongs to another process/);
    assert.match(start.stdout, new RegExp(`^API server started at http://127\\.0\\.0\\.1:${port} \\(pid (\\d+)`));
    const info = JSON.parse(readFileSync(daemonFile(h), 'utf8')) as { pid: number; procStart: string; supervisor: number };
    assert.notEqual(info.pid, pid);
    assert.equal(info.procStart, startTimeOf(info.pid), 'daemon.json records the start time of the daemon process');
    const stop = await sky(h, ['daemon', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    // The supervisor sky daemon start left running is proven by its own pid and start time (supervisor.json), and stopped with the daemon.
    assert.match(stop.stdout, new RegExp(`^API server at http://127\\.0\\.0\\.1:${port} \\(pid ${info.pid}\\) and its supervisor \\(pid ${info.supervisor}\\) stopped\\.`));
    assert.ok(alive(sleeper));
  });
});

describe('a stale supervisor.json', () => {
  it('naming an unrelated process: sky daemon stop does not signal it and removes the file', async () => {
    const sleeper = unrelatedProcess();
    const pid = sleeper.pid ?? assert.fail('no pid');
    const h = home();
    mkdirSync(join(h, '.sky/api_server'), { recursive: true });
    const file = join(h, '.sky/api_server/supervisor.json');
    // The pid is alive, but its start time is not the recorded one: another process has it now.
    writeFileSync(file, JSON.stringify({ pid, procStart: '1', startedAt: Date.now(), args: [] }));
    const stop = await sky(h, ['daemon', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^No API server running\./);
    assert.ok(alive(sleeper), 'the unrelated process was not signalled');
    assert.ok(!existsSync(file), 'the stale record is removed');
  });
});
