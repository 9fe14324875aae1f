// A job fills the disk that holds the daemon's state store, its log and the local nodes:
// the daemon stays up, answers health and reads, refuses what it cannot persist with 503
// DISK_FULL (never 202 and then lost, never 500), and takes writes again by itself once the
// file is gone. The log says how many lines it had to drop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { http, killAllDaemons, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorOf, runOperation } from '../helpers/team.js';
import { mountTmpfs, tmpfsUnavailable, type Tmpfs } from '../helpers/tmpfs.js';

const HEADERS = { 'content-type': 'application/json' };
const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

interface Rec {
  id: string;
  status: string;
  result?: { jobId?: number };
  error?: { code: string; message: string };
}
interface Job {
  id: number;
  status: string;
}

const unavailable = tmpfsUnavailable();
if (unavailable !== undefined && process.env.CI === 'true') throw new Error(`disk-full test cannot run under CI=true: ${unavailable}`);
if (unavailable !== undefined) process.stderr.write(`\n*** SKIPPING the disk-full test: ${unavailable} ***\n\n`);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Processes whose command line names `dir` (the jobs this test started on its own disk). */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('a job that fills the disk', { skip: unavailable }, () => {
  let disk: Tmpfs;
  let home: string;
  let d: DaemonHandle;

  const op = (name: string, body: unknown): Promise<Rec> => runOperation<Rec>(d.url, name, body, HEADERS);
  const job = async (cluster: string, id: number): Promise<Job | undefined> => {
    const res = await http(`${d.url}/api/v1/clusters/${cluster}/jobs?all_users=true`, { headers: HEADERS });
    assert.equal(res.status, 200, res.text);
    return (res.json() as { items: Job[] }).items.find((j) => j.id === id);
  };
  const jobEnded = (cluster: string, id: number): Promise<Job> =>
    until(`job ${id} on ${cluster} to end`, 30_000, async () => {
      const found = await job(cluster, id);
      return found && ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'].includes(found.status) ? found : undefined;
    });
  const healthy = async (): Promise<void> => {
    const res = await http(`${d.url}/api/health`);
    assert.equal(res.status, 200, res.text);
    assert.equal(d.child.exitCode, null, 'the daemon is still running');
  };

  before(async () => {
    disk = mountTmpfs(48, 'diskfull');
    // HOME on the small disk: the state directory (~/.sky/api_server), its log and the local nodes all live there.
    home = join(disk.dir, 'home');
    mkdirSync(join(home, '.sky'), { recursive: true });
    d = await startDaemon({ home, config: `drivers:\n  local:\n    root: ${join(disk.dir, 'nodes')}\n    cpus: 4\n    memory_gb: 4\n` });
  });

  after(async () => {
    try {
      // Let the filling job end (also when the test failed half-way), then stop everything this test started.
      if (disk) rmSync(join(disk.dir, 'fill'), { force: true });
      await d?.stop();
      await killAllDaemons();
    } finally {
      if (disk) {
        for (const pid of processesUnder(disk.dir)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // ended meanwhile
          }
        }
        disk.unmount();
      }
    }
  });

  it('stays up, refuses writes with 503 DISK_FULL, keeps answering reads, and recovers once the file is deleted', { timeout: 180_000 }, async () => {
    const launched = await op('launch', { cluster: 'full', task: { run: 'true' } });
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    const fill = join(disk.dir, 'fill');
    const go = join(disk.dir, 'go');
    // The job waits for the test's signal (so its exec request has ended), fills the disk, then
    // holds on until the test removes the file (so it can still record its exit).
    const filler = await op('exec', {
      cluster: 'full',
      task: { run: `while [ ! -e ${go} ]; do sleep 0.1; done; head -c 1024M /dev/zero > ${fill}; while [ -e ${fill} ]; do sleep 0.2; done` },
    });
    assert.equal(filler.status, 'SUCCEEDED', JSON.stringify(filler.error));
    await until('the filling job to run', 30_000, async () => ((await job('full', filler.result!.jobId!))?.status === 'RUNNING' ? true : undefined));
    writeFileSync(go, '');
    await until('the disk to fill up', 30_000, async () => (disk.free() === 0 ? true : undefined));

    // Full: health answers; a write fills the last page of LevelDB's log at most, then every
    // submit is refused with 503 DISK_FULL. What was accepted must not be lost.
    await healthy();
    const accepted: string[] = [];
    let refused: { code: string; message: string; hint?: string } | undefined;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      const res = await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: HEADERS, body: '{}' });
      assert.ok(res.status === 202 || res.status === 503, `a submit on a full disk answers 202 or 503, got ${res.status}: ${res.text}`);
      if (res.status === 202) accepted.push((res.json() as { requestId: string }).requestId);
      else refused = (res.json() as { error: { code: string; message: string; hint?: string } }).error;
    }
    assert.ok(refused, 'a submit is refused once the disk is full');
    assert.equal(refused.code, 'DISK_FULL', refused.message);
    assert.match(refused.hint ?? '', /free space/);
    const exec = await http(`${d.url}/api/v1/exec`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ cluster: 'full', task: { run: 'true' } }) });
    assert.equal(exec.status, 503, exec.text);
    assert.equal(errorOf(exec.text).code, 'DISK_FULL');

    for (const path of ['/api/v1/clusters', '/api/v1/requests?limit=20', '/api/v1/clusters/full/jobs?all_users=true', `/api/v1/requests/${launched.id}`]) {
      const res = await http(`${d.url}${path}`, { headers: HEADERS });
      assert.equal(res.status, 200, `GET ${path} on a full disk: ${res.text}`);
    }
    await sleep(1500); // the store's recovery check runs meanwhile and must find no room
    await healthy();

    rmSync(fill);
    const back = await until('a submit to be accepted again', 30_000, async () => {
      const res = await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: HEADERS, body: '{}' });
      assert.ok(res.status === 202 || res.status === 503, `${res.status}: ${res.text}`);
      return res.status === 202 ? (res.json() as { requestId: string }).requestId : undefined;
    });
    for (const id of [...accepted, back]) {
      const rec = await until(`request ${id} to finish`, 30_000, async () => {
        const res = await http(`${d.url}/api/v1/requests/${id}`, { headers: HEADERS });
        assert.equal(res.status, 200, `request ${id} accepted with 202 must not be lost: ${res.text}`);
        const record = res.json() as Rec;
        return TERMINAL.includes(record.status) ? record : undefined;
      });
      assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    }
    assert.equal((await jobEnded('full', filler.result!.jobId!)).status, 'SUCCEEDED', 'the filling job recorded its end once there was room');

    const again = await op('exec', { cluster: 'full', task: { run: 'echo written-after-recovery' } });
    assert.equal(again.status, 'SUCCEEDED', JSON.stringify(again.error));
    assert.equal((await jobEnded('full', again.result!.jobId!)).status, 'SUCCEEDED');
    const relaunch = await op('launch', { cluster: 'after', task: { run: 'true' } });
    assert.equal(relaunch.status, 'SUCCEEDED', JSON.stringify(relaunch.error));
    await healthy();

    const log = readFileSync(join(home, '.sky', 'api_server', 'server.log'), 'utf8');
    const notices = log
      .split('\n')
      .filter((line) => line.includes('"droppedLines"'))
      .map((line) => JSON.parse(line) as { droppedLines: number; reason: string });
    assert.ok(notices.length > 0, 'the log says that lines were dropped');
    assert.ok(notices.every((n) => n.droppedLines > 0 && n.reason === 'ENOSPC'), JSON.stringify(notices));
    assert.match(log, /the state store takes writes again/);
    assert.doesNotMatch(d.stderr(), /bug in sky/);

    for (const name of ['full', 'after']) assert.equal((await op('down', { cluster: name })).status, 'SUCCEEDED');
  });
});
