import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { asAdmin, asUser, errorOf, runOperation, startTeamDaemon } from '../helpers/team.js';
import { manifestOf, uploadFiles } from '../helpers/uploads.js';

/*
 * Findings replayed against a real basic-auth team daemon:
 * - Critical 3: a member named paths of the daemon's host (its state store, /etc/shadow) as
 *   workdir or file_mounts source and got them copied to her nodes. Now refused at submit
 *   (SERVER_PATH_REFUSED, audited), symbolic links resolved before the allow-list check.
 * - High 4: an absolute file_mounts destination on the local driver was written as-is on the
 *   daemon's host. Now it lands inside the node directory; ".." is refused.
 * - Uploads are owner-scoped: another user's upload id is UPLOAD_NOT_FOUND (audited), and a
 *   chunk is kept only when its bytes have the sha256 its URL names.
 * After each, the daemon is still healthy.
 */

interface Entry {
  user: string;
  userName: string;
  action: string;
  target?: string;
  result: string;
  detail?: string;
}

let d: DaemonHandle;
let shared: string;
let outside: string;

async function auditEntries(filter: (e: Entry) => boolean): Promise<Entry[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await http(`${d.url}/api/v1/audit?limit=1000`, { headers: asAdmin() });
    assert.equal(res.status, 200, res.text);
    const found = (res.json() as { items: Entry[] }).items.filter(filter);
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function healthy(): Promise<void> {
  const res = await http(`${d.url}/api/health`);
  assert.equal(res.status, 200);
  assert.equal((res.json() as { status: string }).status, 'healthy');
}

async function submit(name: string, body: unknown, user = 'alice'): Promise<{ status: number; code: string; message: string; text: string }> {
  const res = await http(`${d.url}/api/v1/${name}`, { method: 'POST', headers: asUser(user), body: JSON.stringify(body) });
  const error = res.status >= 400 ? errorOf(res.text) : { code: '', message: '' };
  return { status: res.status, code: error.code, message: error.message, text: res.text };
}

before(async () => {
  shared = await mkdtemp(join(tmpdir(), 'sky-sec-shared-'));
  outside = await mkdtemp(join(tmpdir(), 'sky-sec-outside-'));
  await mkdir(join(shared, 'data'));
  await mkdir(join(shared, 'withlink'));
  await writeFile(join(shared, 'data/dataset.txt'), 'shared dataset\n');
  await writeFile(join(shared, 'withlink/ok.txt'), 'ok\n');
  await writeFile(join(outside, 'private.txt'), 'not shared\n');
  await symlink(outside, join(shared, 'escape'));
  await symlink(outside, join(shared, 'withlink/out'));
  d = await startTeamDaemon(['alice', 'bob'], `uploads:\n  server_paths: [${JSON.stringify(shared)}]\n`);
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
  await rm(shared, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('server paths in a task (finding: the daemon reads its own files for a member)', () => {
  it('refuses /etc/shadow, /etc and the daemon state dir as workdir or file_mounts source, and audits each', async () => {
    const stateDir = join(d.home, '.sky/api_server');
    const cases: Array<[string, unknown]> = [
      ['/etc/shadow', { task: { run: 'cat ~/x', file_mounts: { '/x': '/etc/shadow' } } }],
      ['/etc', { task: { run: 'ls', workdir: '/etc' } }],
      [stateDir, { task: { run: 'ls', workdir: stateDir } }],
      [join(stateDir, 'state'), { task: { run: 'ls', file_mounts: { '~/store': join(stateDir, 'state') } } }],
    ];
    for (const [path, body] of cases) {
      const res = await submit('launch', { ...(body as object), cluster: 'sec1' });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.code, 'SERVER_PATH_REFUSED');
      assert.match(res.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is a path on the API server's host`));
      const audited = await auditEntries((e) => e.action === 'read_server_path' && e.target === path && e.userName === 'alice');
      assert.equal(audited.length, 1, `audit entry for ${path}`);
      assert.equal(audited[0]!.result, 'DENIED');
      assert.equal(audited[0]!.detail, 'SERVER_PATH_REFUSED');
    }
    // exec too, and nothing was provisioned.
    const exec = await submit('exec', { cluster: 'sec1', task: { run: 'ls', workdir: '/root' } });
    assert.equal(exec.code, 'SERVER_PATH_REFUSED');
    assert.equal((await http(`${d.url}/api/v1/clusters/sec1`, { headers: asUser('alice') })).status, 404);
    await healthy();
  });

  it('allows paths under uploads.server_paths, but not through a link out of them', async () => {
    const ok = await runOperation<{ status: string; error?: unknown }>(d.url, 'launch', { cluster: 'sec1', task: { run: 'cat ~/data/dataset.txt', file_mounts: { '~/data': join(shared, 'data') } } }, asUser('alice'));
    assert.equal(ok.status, 'SUCCEEDED', JSON.stringify(ok.error));
    const viaLink = await submit('exec', { cluster: 'sec1', task: { run: 'ls', workdir: join(shared, 'escape') } });
    assert.equal(viaLink.status, 400, viaLink.text);
    assert.equal(viaLink.code, 'SERVER_PATH_REFUSED');
    const dotdot = await submit('exec', { cluster: 'sec1', task: { run: 'ls', workdir: `${shared}/../${outside.split('/').pop()!}` } });
    assert.equal(dotdot.code, 'SERVER_PATH_REFUSED');
    await healthy();
  });

  it('a link inside an allowed tree that points outside is refused when the files are read', async () => {
    // The tree itself is allowed; its link to another directory is not followed out of it.
    const res = await runOperation<{ status: string; error?: { code: string; message: string } }>(d.url, 'exec', { cluster: 'sec1', task: { run: 'ls', workdir: join(shared, 'withlink') } }, asUser('alice'));
    assert.equal(res.status, 'FAILED');
    assert.equal(res.error?.code, 'TASK_INVALID');
    assert.match(res.error?.message ?? '', /withlink\/out is a symbolic link to .*, outside/);
    await healthy();
  });
});

describe('file mount destinations (finding: absolute destinations written on the daemon host)', () => {
  it('lands an absolute destination inside the node directory, and refuses ".." escapes', async () => {
    const id = await uploadFiles(d.url, asUser('alice'), { 'cron-job': '* * * * * root touch /tmp/pwned\n' }, 'file');
    const target = `/tmp/sky-sec-cron-${process.pid}/job`;
    const done = await runOperation<{ status: string }>(d.url, 'exec', { cluster: 'sec1', task: { run: `cat ~${target}` }, uploads: { file_mounts: { [target]: id } } }, asUser('alice'));
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(existsSync(target), false, 'nothing written on the daemon host');
    for (const dest of ['/data/../../../etc/cron.d/evil', '~/../../etc/passwd', '/..']) {
      const res = await submit('exec', { cluster: 'sec1', task: { run: 'ls' }, uploads: { file_mounts: { [dest]: id } } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.code, 'TASK_INVALID');
      assert.match(res.message, /"\.\." segment/);
    }
    await healthy();
  });
});

describe("another user's uploads", () => {
  it("bob cannot read, use or even detect alice's upload: 404 like a missing one, and audited", async () => {
    const id = await uploadFiles(d.url, asUser('alice'), { 'train.py': 'print("alice")\n' });
    const read = await http(`${d.url}/api/v1/uploads/${id}`, { headers: asUser('bob') });
    assert.equal(read.status, 404);
    assert.equal(errorOf(read.text).code, 'UPLOAD_NOT_FOUND');
    const missing = await http(`${d.url}/api/v1/uploads/up-${'0'.repeat(64)}`, { headers: asUser('bob') });
    assert.equal(missing.status, 404);
    assert.equal(errorOf(missing.text).message.replace(/up-[0-9a-f]+/, 'ID'), errorOf(read.text).message.replace(/up-[0-9a-f]+/, 'ID'));
    for (const [name, body] of [
      ['launch', { cluster: 'bobs', task: { run: 'ls' }, uploads: { workdir: id } }],
      ['exec', { cluster: 'sec1', task: { run: 'ls' }, uploads: { file_mounts: { '~/x': id } } }],
    ] as const) {
      const res = await submit(name, body, 'bob');
      assert.equal(res.status, 404, res.text);
      assert.equal(res.code, 'UPLOAD_NOT_FOUND');
    }
    const denied = await auditEntries((e) => e.userName === 'bob' && e.target === id);
    assert.deepEqual(new Set(denied.map((e) => e.action)), new Set(['read_upload', 'use_upload']));
    assert.ok(denied.every((e) => e.result === 'DENIED' && e.detail === 'UPLOAD_NOT_FOUND'));
    // Dedup is per user: bob announcing the same content must send every chunk himself.
    const { manifest } = manifestOf({ 'train.py': 'print("alice")\n' });
    const bobs = (await http(`${d.url}/api/v1/uploads`, { method: 'POST', headers: asUser('bob'), body: JSON.stringify(manifest) })).json() as { id: string; missing: string[] };
    assert.equal(bobs.missing.length, 1);
    assert.notEqual(bobs.id, id);
    await healthy();
  });

  it('keeps a chunk only when its bytes have the sha256 of its URL; refuses oversized and non-octet-stream bodies', async () => {
    const claimed = createHash('sha256').update('the real bytes').digest('hex');
    const headers = { ...asUser('bob'), 'content-type': 'application/octet-stream' };
    const wrong = await http(`${d.url}/api/v1/uploads/chunks/${claimed}`, { method: 'PUT', headers, body: Buffer.from('other bytes') });
    assert.equal(wrong.status, 400);
    assert.equal(errorOf(wrong.text).code, 'CHUNK_HASH_MISMATCH');
    const big = await http(`${d.url}/api/v1/uploads/chunks/${claimed}`, { method: 'PUT', headers, body: Buffer.alloc(4 * 1024 * 1024 + 1) });
    assert.equal(big.status, 413);
    const json = await http(`${d.url}/api/v1/uploads/chunks/${claimed}`, { method: 'PUT', headers: asUser('bob'), body: '{}' });
    assert.equal(json.status, 415);
    const traversal = await http(`${d.url}/api/v1/uploads/chunks/..%2F..%2Fetc%2Fpasswd`, { method: 'PUT', headers, body: Buffer.from('x') });
    assert.equal(traversal.status, 400);
    const bad = await http(`${d.url}/api/v1/uploads`, { method: 'POST', headers: asUser('bob'), body: JSON.stringify({ kind: 'dir', files: [{ path: '../../etc/cron.d/x', mode: 420, mtimeMs: 0, size: 1, chunks: [claimed] }], dirs: [] }) });
    assert.equal(bad.status, 400);
    assert.equal(errorOf(bad.text).code, 'UPLOAD_INVALID');
    const anonymous = await http(`${d.url}/api/v1/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(manifestOf({ a: 'a' }).manifest) });
    assert.equal(anonymous.status, 401);
    await healthy();
  });
});
