// Another account on the machine reads nothing of the daemon's: the state directory is 0700
// and nothing under it keeps group or other permissions — including what an older version
// left world-readable — and the daemon runs with umask 077 while its jobs keep the user's umask.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { runOperation } from '../helpers/team.js';

const HEADERS = { 'content-type': 'application/json' };

interface Rec {
  status: string;
  result?: { jobId?: number };
  error?: { code: string; message: string };
}

/** Every path under dir (dir included), with its permission bits. */
function modes(dir: string): Array<{ path: string; mode: number; dir: boolean }> {
  const stat = lstatSync(dir);
  const here = { path: dir, mode: stat.mode & 0o777, dir: stat.isDirectory() };
  if (!stat.isDirectory()) return [here];
  return [here, ...readdirSync(dir).flatMap((name) => modes(join(dir, name)))];
}

function assertPrivate(dir: string): void {
  const all = modes(dir);
  const open = all.filter((e) => (e.mode & 0o077) !== 0 || (e.dir && e.mode !== 0o700));
  assert.deepEqual(open.map((e) => `${e.path} ${e.mode.toString(8)}`), [], 'nothing under the state dir is open to group or others');
  for (const name of ['server.log', 'daemon.json', 'secrets.key']) {
    assert.equal(all.find((e) => e.path === join(dir, name))?.mode, 0o600, name);
  }
  assert.ok(all.some((e) => e.path.startsWith(join(dir, 'state', '')) && !e.dir), 'the LevelDB files were checked');
}

function umaskOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Umask:'));
  return line?.split(/\s+/)[1] ?? '';
}

describe('the state directory', () => {
  let home: string;
  let d: DaemonHandle;
  let config: string;
  const stateDir = (): string => join(home, '.sky', 'api_server');

  before(async () => {
    home = tempHome();
    config = `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 2\n    memory_gb: 2\n`;
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    if (home) removeHome(home);
  });

  it('is private after a start, and the daemon runs with umask 077', async () => {
    d = await startDaemon({ home, config });
    const launched = await runOperation<Rec>(d.url, 'launch', { cluster: 'perm', task: { run: 'true' } }, HEADERS);
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    assertPrivate(stateDir());
    if (process.platform === 'linux') assert.equal(umaskOf(d.pid), '0077');
  });

  it("gives jobs on local nodes the umask the daemon was started with, not its own", async () => {
    const started = process.umask();
    const expected = started.toString(8).padStart(4, '0');
    const rec = await runOperation<Rec>(d.url, 'exec', { cluster: 'perm', task: { run: `[ "$(umask)" = "${expected}" ]` } }, HEADERS);
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    for (let end = Date.now() + 30_000; ; ) {
      const res = await http(`${d.url}/api/v1/clusters/perm/jobs`, { headers: HEADERS });
      const job = (res.json() as { items: Array<{ id: number; status: string }> }).items.find((j) => j.id === rec.result!.jobId);
      if (job?.status === 'SUCCEEDED') break;
      assert.ok(!['FAILED', 'CANCELLED'].includes(job?.status ?? ''), `the job saw umask ${expected}: ${job?.status}`);
      assert.ok(Date.now() < end, 'the job ends');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('takes group and other access away from what an older version left open, at the next start', async () => {
    await d.stop();
    const dir = stateDir();
    mkdirSync(join(dir, 'leftover'), { mode: 0o755 });
    writeFileSync(join(dir, 'leftover', 'notes.txt'), 'old', { mode: 0o644 });
    for (const entry of modes(dir)) chmodSync(entry.path, entry.dir ? 0o755 : 0o644);
    d = await startDaemon({ home, port: d.port, config });
    assertPrivate(dir);
    assert.equal((await runOperation<Rec>(d.url, 'down', { cluster: 'perm' }, HEADERS)).status, 'SUCCEEDED');
  });
});
