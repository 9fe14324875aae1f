// The daemon's side of a local node's launcher, against the real runtime script in /bin/sh:
// answers in order, a launcher that dies fails what it owed and is replaced, idle ones exit.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { jobDir, jobFiles, journalPath, launcherCommand, NODE_SCRIPT_PATH, runtimeScriptPath } from '@sky/runtime';
import { SkyError } from '@sky/protocol';
import { LocalLauncher } from '../../core/daemon/src/nodes/local-launcher.js';
import { alive, waitFor } from '../helpers/processes.js';

let root: string;
const JOURNAL = journalPath('', 'local');
let counter = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sky-launcher-'));
  await mkdir(join(root, NODE_SCRIPT_PATH, '..'), { recursive: true });
  await copyFile(runtimeScriptPath(), join(root, NODE_SCRIPT_PATH));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A rank's files, written as the daemon writes them, in a private directory; its path relative to the root. */
async function rank(run: string): Promise<string> {
  counter += 1;
  const rel = jobDir('', `job-${counter}-r0`);
  await mkdir(join(root, rel), { recursive: true, mode: 0o700 });
  const files = jobFiles({ jobId: `job-${counter}`, rank: 0, nodeIps: ['127.0.0.1'], taskId: 't', clusterInfo: { cluster_name: 'c', cloud: 'local', region: null, zone: null }, home: root, run });
  for (const [name, text] of Object.entries(files)) await writeFile(join(root, rel, name), text);
  return rel;
}

describe('local launcher', () => {
  it('answers many starts at once in order, each with the pid its rank recorded', async () => {
    const launcher = new LocalLauncher(root, ['-c', `exec ${launcherCommand()}`]);
    try {
      const dirs = await Promise.all(Array.from({ length: 12 }, (_, i) => rank(`echo rank ${i}`)));
      const pids = await Promise.all(dirs.map((dir) => launcher.start(dir, JOURNAL)));
      assert.equal(new Set(pids).size, 12);
      for (const [i, dir] of dirs.entries()) assert.equal(Number((await readFile(join(root, dir, 'pid'), 'utf8')).trim()), pids[i]);
      await waitFor(async () => (await readFile(join(root, JOURNAL), 'utf8')).split('SUCCEEDED').length > 12, 10_000, 'every rank to end');
      await assert.rejects(launcher.start(jobDir('', 'no-such-r0'), JOURNAL), (err: unknown) => err instanceof SkyError && err.code === 'NODE_RUNTIME_ERROR' && /no job directory/.test(err.message));
      assert.ok((await launcher.start(await rank('true'), JOURNAL)) > 1, 'a refused request does not stop the launcher');
    } finally {
      launcher.close();
    }
  });

  it('fails what it owed when its shell dies, and the next start runs a new one', async () => {
    // A launcher that reads one request and dies without answering.
    const dying = new LocalLauncher(root, ['-c', 'read a; read b; exit 3']);
    await assert.rejects(dying.start(await rank('true'), JOURNAL), (err: unknown) => err instanceof SkyError && err.code === 'NODE_RUNTIME_ERROR' && /exited \(code 3\)/.test(err.message));
    await assert.rejects(dying.start(await rank('true'), JOURNAL), /exited \(code 3\)/, 'a new shell ran for the second start');
  });

  it('closes an idle launcher; the ranks it started run on, and a later start runs a new one', async () => {
    const launcher = new LocalLauncher(root, ['-c', `exec ${launcherCommand()}`], 50);
    const go = join(root, 'go');
    const first = await launcher.start(await rank(`while [ ! -e '${go}' ]; do sleep 0.05; done`), JOURNAL);
    await sleep(300);
    assert.ok(alive(first), 'the rank runs on after its launcher went idle');
    const second = await launcher.start(await rank('true'), JOURNAL);
    assert.ok(second > 1);
    await writeFile(go, '');
    await waitFor(() => !alive(first), 10_000, 'the first rank to end');
    launcher.close();
  });
});
