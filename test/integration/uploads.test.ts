import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEndpoint, prepareUpload, SkyClient } from '@sky/client';
import { http, killAllDaemons, removeHome, SKY_BIN, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { asUser, errorOf, runOperation, startTeamDaemon } from '../helpers/team.js';
import { manifestOf, uploadFiles } from '../helpers/uploads.js';

/*
 * Uploads against a basic-auth team daemon: the CLI (its own HOME and working directory) runs a
 * task whose workdir and file mounts exist only on the client side; a re-launch sends no chunk
 * again; an interrupted upload resumes; the quota is enforced with numbers; unused uploads are
 * collected. The team daemon never reads server paths for a member, so a job that sees the files
 * proves they travelled as uploads.
 */

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let d: DaemonHandle;
let client: string;

/** The sky binary as alice, with her own HOME, from `cwd`. */
function sky(cwd: string, args: readonly string[]): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: client, SKYPILOT_API_SERVER_ENDPOINT: d.url.replace('http://', 'http://alice:alice-password@') };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--', SKY_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function show(args: readonly string[], r: Result): string {
  return `sky ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

async function sdk(user: string): Promise<SkyClient> {
  return new SkyClient({ endpoint: await parseEndpoint(d.url.replace('http://', `http://${user}:${user}-password@`), 'test'), identity: { id: user, name: user } });
}

/** Every chunk file under a daemon's upload store. */
async function chunkFiles(home: string): Promise<string[]> {
  const root = join(home, '.sky/api_server/uploads/chunks');
  const out: string[] = [];
  for (const owner of await readdir(root).catch(() => [] as string[])) {
    for (const prefix of await readdir(join(root, owner)).catch(() => [] as string[])) {
      if (prefix === 'owner') continue;
      out.push(...(await readdir(join(root, owner, prefix)).catch(() => [] as string[])));
    }
  }
  return out;
}

before(async () => {
  d = await startTeamDaemon(['alice', 'bob'], 'uploads:\n  quota_bytes: 6000000\n');
  client = tempHome();
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
  if (client) removeHome(client);
});

describe('uploads to a team daemon', () => {
  let proj: string;
  let work: string;

  before(async () => {
    proj = join(client, 'proj');
    work = join(client, 'elsewhere');
    await mkdir(join(proj, 'src'), { recursive: true });
    await mkdir(work, { recursive: true });
    await writeFile(join(proj, 'hello.txt'), 'hello from the laptop\n');
    await writeFile(join(proj, 'src/main.py'), 'print("main")\n');
    await writeFile(join(proj, 'secret.key'), 'not for the server\n');
    await writeFile(join(proj, '.skyignore'), 'secret.key\n');
    await writeFile(join(client, 'app.conf'), 'level=debug\n');
    await chmod(proj, 0o700);
    await chmod(client, 0o700);
    await writeFile(
      join(proj, 'task.yaml'),
      'workdir: ~/proj\nfile_mounts:\n  /etc/app.conf: ~/app.conf\n  ~/data: ~/proj/src\nrun: |\n  cat hello.txt src/main.py\n  ls secret.key 2>&1 || true\n  cat ~/etc/app.conf ~/data/main.py\n',
    );
  });

  it('runs a task whose workdir and file mounts exist only on the client (CLI, other HOME and cwd)', async () => {
    const args = ['launch', '-y', '-c', 'up1', join(proj, 'task.yaml')];
    const r = await sky(work, args);
    assert.equal(r.code, 0, show(args, r));
    assert.match(r.stdout, /hello from the laptop/);
    assert.match(r.stdout, /print\("main"\)\n/);
    assert.match(r.stdout, /secret\.key.*No such file/, 'the .skyignore d file stayed on the laptop');
    assert.match(r.stdout, /level=debug/);
    assert.match(r.stderr, /Uploading workdir .*proj \(4 files, .*\): sending 4 of 4 chunk\(s\)/);
    assert.match(r.stderr, /Synced workdir .*proj \(uploaded\) to ~\/sky_workdir/);
    // The launch named uploads, not paths the daemon would read.
    const list = (await http(`${d.url}/api/v1/requests?limit=5`, { headers: asUser('alice') })).json() as { items: Array<{ name: string; body: { uploads?: { workdir?: string; file_mounts?: Record<string, string> } } }> };
    const launch = list.items.find((x) => x.name === 'launch')!;
    assert.match(launch.body.uploads?.workdir ?? '', /^up-[0-9a-f]{64}$/);
    assert.deepEqual(Object.keys(launch.body.uploads?.file_mounts ?? {}).sort(), ['/etc/app.conf', '~/data']);
  });

  it('a re-launch and an exec send no chunk again', async () => {
    const args = ['launch', '-y', '-c', 'up1', join(proj, 'task.yaml')];
    const r = await sky(work, args);
    assert.equal(r.code, 0, show(args, r));
    assert.match(r.stderr, /Uploading workdir .*proj \(4 files, .*\): already on the API server, nothing to send/);
    assert.doesNotMatch(r.stderr, /Uploaded /);
    const exec = ['exec', 'up1', '--workdir', '~/proj', 'cat hello.txt'];
    const e = await sky(work, exec);
    assert.equal(e.code, 0, show(exec, e));
    assert.match(e.stderr, /nothing to send/);
    const alice = await sdk('alice');
    const again = await alice.upload(proj);
    alice.close();
    assert.equal(again.sentChunks, 0);
    assert.equal(again.chunks, 4);
  });

  it('an interrupted upload resumes: chunks already stored are not sent again', async () => {
    const big = join(client, 'big');
    await mkdir(big, { recursive: true });
    // 3 chunks of 4 MiB would exceed the 6 MB quota; use several small distinct files instead.
    for (let i = 0; i < 6; i += 1) await writeFile(join(big, `part-${i}.bin`), Buffer.alloc(1000 + i, i + 1));
    const prepared = await prepareUpload(big);
    // The first attempt announces the upload and sends two chunks, then stops.
    const res = await http(`${d.url}/api/v1/uploads`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify(prepared.manifest) });
    const created = res.json() as { id: string; missing: string[] };
    assert.equal(created.missing.length, 6);
    const { chunks } = manifestOf(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`part-${i}.bin`, Buffer.alloc(1000 + i, i + 1)])));
    for (const sha of created.missing.slice(0, 2)) {
      const put = await http(`${d.url}/api/v1/uploads/chunks/${sha}`, { method: 'PUT', headers: { ...asUser('alice'), 'content-type': 'application/octet-stream' }, body: chunks.get(sha)! });
      assert.equal(put.status, 201, put.text);
    }
    const view = (await http(`${d.url}/api/v1/uploads/${created.id}`, { headers: asUser('alice') })).json() as { missing: string[] };
    assert.equal(view.missing.length, 4);
    // A launch naming it now is refused: it is incomplete.
    const early = await http(`${d.url}/api/v1/launch`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ task: { run: 'ls' }, cluster: 'up1', uploads: { workdir: created.id } }) });
    assert.equal(early.status, 409, early.text);
    assert.equal(errorOf(early.text).code, 'UPLOAD_INCOMPLETE');
    // The next attempt sends only the other four.
    const alice = await sdk('alice');
    const resumed = await alice.upload(big);
    alice.close();
    assert.equal(resumed.id, created.id);
    assert.equal(resumed.sentChunks, 4);
    const done = await runOperation<{ status: string }>(d.url, 'exec', { cluster: 'up1', task: { run: 'ls' }, uploads: { workdir: created.id } }, asUser('alice'));
    assert.equal(done.status, 'SUCCEEDED');
  });

  it('refuses an upload over the quota, saying how much is used, needed and allowed', async () => {
    const res = await http(`${d.url}/api/v1/uploads`, { method: 'POST', headers: asUser('bob'), body: JSON.stringify(manifestOf({ 'weights.bin': Buffer.alloc(7_000_000, 9) }).manifest) });
    assert.equal(res.status, 413, res.text);
    const error = errorOf(res.text);
    assert.equal(error.code, 'UPLOAD_QUOTA_EXCEEDED');
    assert.match(error.message, /needs 6\.7 MiB \(7000000 bytes\) more, but you already store 0 bytes of your 5\.7 MiB \(6000000 bytes\) upload quota/);
    // Through the CLI: the same refusal, and nothing launched.
    const heavy = join(client, 'heavy');
    await mkdir(heavy, { recursive: true });
    await writeFile(join(heavy, 'w.bin'), Buffer.alloc(7_000_000, 3));
    const args = ['exec', 'up1', '--workdir', heavy, 'ls'];
    const r = await sky(work, args);
    assert.notEqual(r.code, 0, show(args, r));
    assert.match(r.stderr, /upload quota/);
  });

  it("places an absolute file mount destination inside the local node's directory, and refuses '..'", async () => {
    const id = await uploadFiles(d.url, asUser('alice'), { 'marker.txt': 'inside the node\n' }, 'file');
    const outside = `/tmp/sky-upload-escape-${process.pid}`;
    const done = await runOperation<{ status: string; result?: { jobId: number } }>(
      d.url,
      'exec',
      { cluster: 'up1', task: { run: `cat ~${outside}/marker.txt` }, uploads: { file_mounts: { [`${outside}/marker.txt`]: id } } },
      asUser('alice'),
    );
    assert.equal(done.status, 'SUCCEEDED');
    await assert.rejects(readdir(outside), /ENOENT/);
    const res = await http(`${d.url}/api/v1/exec`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ cluster: 'up1', task: { run: 'ls', file_mounts: { '/data/../../etc/cron.d/x': '/tmp/x' } } }) });
    assert.equal(res.status, 400, res.text);
    assert.match(errorOf(res.text).message, /has a "\.\." segment/);
    const viaUploads = await http(`${d.url}/api/v1/exec`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ cluster: 'up1', task: { run: 'ls' }, uploads: { file_mounts: { '~/../../etc/x': id } } }) });
    assert.equal(viaUploads.status, 400, viaUploads.text);
    assert.equal(errorOf(viaUploads.text).code, 'TASK_INVALID');
  });

  it('a task POSTed by another client gets its envs substituted into file_mounts, as the CLI does; a source that is no upload is refused by its substituted name', async () => {
    const id = await uploadFiles(d.url, asUser('alice'), { 'weights.txt': 'llama weights\n' }, 'file');
    const task = { envs: { MODEL: 'llama' }, file_mounts: { '~/models/${MODEL}.txt': '/client/${MODEL}.txt' }, run: 'cat ~/models/llama.txt\nls ~/models' };
    // Keyed as the task writes the destination, as a client that knows nothing of substitution would.
    const done = await runOperation<{ status: string; error?: unknown; result?: { jobId: number } }>(
      d.url,
      'exec',
      { cluster: 'up1', task, uploads: { file_mounts: { '~/models/${MODEL}.txt': id } } },
      asUser('alice'),
    );
    assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done.error));
    const jobId = done.result!.jobId;
    let text = '';
    for (let tries = 0; tries < 300; tries += 1) {
      const jobs = (await http(`${d.url}/api/v1/clusters/up1/jobs`, { headers: asUser('alice') })).json() as { items: Array<{ id: number; status: string }> };
      const status = jobs.items.find((j) => j.id === jobId)?.status;
      if (status === 'SUCCEEDED' || status === 'FAILED') {
        assert.equal(status, 'SUCCEEDED');
        const logs = await http(`${d.url}/api/v1/clusters/up1/jobs/${jobId}/logs?follow=false`, { headers: asUser('alice') });
        text = logs.text
          .split('\n\n')
          .filter((b) => b.startsWith('event: log'))
          .map((b) => (JSON.parse(b.split('data: ')[1]!) as { text: string }).text)
          .join('\n');
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(text, 'llama weights\nllama.txt', 'the mount landed at ~/models/llama.txt, not at a file named ${MODEL}.txt');
    const refused = await http(`${d.url}/api/v1/exec`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ cluster: 'up1', task }) });
    assert.equal(refused.status, 400, refused.text);
    const error = errorOf(refused.text);
    assert.equal(error.code, 'SERVER_PATH_REFUSED');
    assert.match(error.message, /^file_mounts\["~\/models\/llama\.txt"\]: \/client\/llama\.txt is a path on the API server's host/);
  });
});

describe('garbage collection of uploads', () => {
  let g: DaemonHandle;

  before(async () => {
    // Unused after ~0.2 s; collected every 0.3 s.
    g = await startDaemon({ config: 'auth:\n  mode: basic\nuploads:\n  unused_days: 0.0000025\n  gc_interval_seconds: 0.3\ndrivers: {}\n', env: { SKY_ADMIN_USERNAME: 'admin', SKY_ADMIN_PASSWORD: 'admin-pass-1' } });
  });

  after(async () => {
    await g?.stop();
    if (g) removeHome(g.home);
  });

  it('deletes uploads no launch used for unused_days, then the chunks nothing refers to', async () => {
    const admin = { authorization: `Basic ${Buffer.from('admin:admin-pass-1').toString('base64')}`, 'content-type': 'application/json' };
    const id = await uploadFiles(g.url, admin, { 'a.txt': 'collect me' });
    assert.equal((await chunkFiles(g.home)).length, 1);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const res = await http(`${g.url}/api/v1/uploads/${id}`, { headers: admin });
      const left = await chunkFiles(g.home);
      if (res.status === 404 && left.length === 0) break;
      if (Date.now() > deadline) assert.fail(`upload not collected: ${res.status}, chunks left ${JSON.stringify(left)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});

describe('uploads an unfinished managed job names', () => {
  let m: DaemonHandle;
  const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

  before(async () => {
    const home = tempHome();
    // Unused after ~0.2 s; collected every 0.3 s.
    m = await startDaemon({ home, config: `uploads:\n  unused_days: 0.0000025\n  gc_interval_seconds: 0.3\ndrivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 4\n    memory_gb: 8\n` });
  });

  after(async () => {
    // Jobs outlive their daemon by design: a failed run must not leave its sleep behind.
    if (m) await runOperation(m.url, 'jobs_cancel', { all: true }, HEADERS).catch(() => undefined);
    await m?.stop();
    if (m) removeHome(m.home);
  });

  it('are kept while the job may launch its tasks again, and collected once it ended', async () => {
    const id = await uploadFiles(m.url, HEADERS, { 'train.sh': 'echo training' });
    const rec = await runOperation<{ status: string; result?: { jobId: number }; error?: unknown }>(
      m.url,
      'jobs_launch',
      { tasks: [{ task: { workdir: '.', run: 'cat train.sh; sleep 600' }, uploads: { workdir: id } }] },
      HEADERS,
    );
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const jobId = rec.result!.jobId;
    // Many collections pass while the job runs (unused_days is ~0.2 s here): the upload stays.
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      assert.equal((await http(`${m.url}/api/v1/uploads/${id}`, { headers: HEADERS })).status, 200, 'the upload of a running managed job is kept');
      await new Promise((r) => setTimeout(r, 200));
    }
    const cancel = await runOperation<{ status: string }>(m.url, 'jobs_cancel', { job_ids: [jobId] }, HEADERS);
    assert.equal(cancel.status, 'SUCCEEDED');
    const deadline = Date.now() + 15_000;
    while ((await http(`${m.url}/api/v1/uploads/${id}`, { headers: HEADERS })).status !== 404) {
      if (Date.now() > deadline) assert.fail('the upload of an ended managed job was never collected');
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});
