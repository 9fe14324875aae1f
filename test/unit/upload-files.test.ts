import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SkyError } from '@sky/protocol';
import { walkTree } from '@sky/protocol/files';
import { uploadTaskFiles, type TaskBody } from '@sky/client';
import { LocalTransport } from '../../core/daemon/src/nodes/local-transport.js';
import type { SyncFile } from '../../core/daemon/src/nodes/transport.js';
import { fileDestination, nodeDestination } from '../../core/daemon/src/uploads/node-destination.js';

/*
 * What is read to upload (the walker's ignore and link rules), where synced files land on a
 * node (local nodes confined to their directory, never through a link), and what the SDK
 * replaces with uploads before a launch.
 */

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sky-upload-files-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function tree(name: string, files: Record<string, string>, dirs: string[] = []): Promise<string> {
  const root = join(scratch, name);
  for (const d of dirs) await mkdir(join(root, d), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  await mkdir(root, { recursive: true });
  return root;
}

function thrown(err: unknown): SkyError {
  assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
  return err;
}

describe('walkTree', () => {
  it('lists files sorted, empty directories, and honours .skyignore (gitignore syntax, negation, directories)', async () => {
    const root = await tree(
      'sky',
      { '.skyignore': '*.log\nbuild/\n!keep.log\n/top.txt\n', 'a.py': 'a', 'b.log': 'x', 'keep.log': 'k', 'top.txt': 't', 'sub/top.txt': 's', 'build/out.bin': 'o', 'src/z.py': 'z', 'src/m.py': 'm', '.gitignore': 'a.py\n' },
      ['empty/inner', 'onlyignored'],
    );
    await writeFile(join(root, 'onlyignored/x.log'), 'x');
    const t = await walkTree(root);
    assert.equal(t.kind, 'dir');
    assert.deepEqual(
      t.files.map((f) => f.path),
      ['.gitignore', '.skyignore', 'a.py', 'keep.log', 'src/m.py', 'src/z.py', 'sub/top.txt'],
    );
    assert.deepEqual(t.dirs, ['empty/inner', 'onlyignored']);
  });

  it('without .skyignore honours .gitignore files, nested ones below their directory', async () => {
    const root = await tree('git', { '.gitignore': '*.tmp\n', 'a.tmp': '', 'ok.txt': '', 'pkg/.gitignore': 'secret.txt\n!b.tmp\n', 'pkg/secret.txt': '', 'pkg/b.tmp': '', 'other/secret.txt': '' });
    const t = await walkTree(root);
    assert.deepEqual(
      t.files.map((f) => f.path),
      ['.gitignore', 'ok.txt', 'other/secret.txt', 'pkg/.gitignore', 'pkg/b.tmp'],
    );
  });

  it('follows links inside the tree and refuses links out of it, broken ones and loops (unless ignored)', async () => {
    const root = await tree('links', { 'data/real.txt': 'real', 'x.txt': 'x' });
    await symlink('data/real.txt', join(root, 'alias.txt'));
    await symlink('data', join(root, 'datalink'));
    const t = await walkTree(root);
    const alias = t.files.find((f) => f.path === 'alias.txt')!;
    assert.equal(alias.absolute, join(await import('node:fs/promises').then((m) => m.realpath(root)), 'data/real.txt'));
    assert.ok(t.files.some((f) => f.path === 'datalink/real.txt'));

    const out = await tree('out', { 'a.txt': 'a' });
    await symlink('/etc/passwd', join(out, 'passwd'));
    assert.match(thrown(await walkTree(out).catch((e: unknown) => e)).message, /passwd is a symbolic link to \/etc\/passwd, outside/);
    await writeFile(join(out, '.skyignore'), 'passwd\n');
    assert.deepEqual((await walkTree(out)).files.map((f) => f.path), ['.skyignore', 'a.txt']);

    const broken = await tree('broken', { 'a.txt': 'a' });
    await symlink('nowhere', join(broken, 'dangling'));
    assert.match(thrown(await walkTree(broken).catch((e: unknown) => e)).message, /dangling is a broken symbolic link/);

    const loop = await tree('loop', { 'd/a.txt': 'a' });
    await symlink('..', join(loop, 'd/up'));
    assert.match(thrown(await walkTree(loop).catch((e: unknown) => e)).message, /a loop/);
  });

  it('skips FIFOs, reads a single file as a one-file tree, and stops at maxEntries', async () => {
    const root = await tree('fifo', { 'a.txt': 'a' });
    execFileSync('mkfifo', [join(root, 'pipe')]);
    assert.deepEqual((await walkTree(root)).files.map((f) => f.path), ['a.txt']);
    const single = await walkTree(join(root, 'a.txt'));
    assert.equal(single.kind, 'file');
    assert.equal(single.files[0]!.path, 'a.txt');
    const many = await tree('many', Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, ''])));
    assert.equal(thrown(await walkTree(many, { maxEntries: 10 }).catch((e: unknown) => e)).code, 'UPLOAD_TOO_LARGE');
    assert.match(thrown(await walkTree(join(scratch, 'absent')).catch((e: unknown) => e)).message, /does not exist/);
  });
});

function syncFile(path: string, text: string, mtimeMs = 1_700_000_000_000, mode = 0o644): SyncFile {
  return { path, mode, mtimeMs, size: Buffer.byteLength(text), open: () => Readable.from([Buffer.from(text)]) };
}

describe('LocalTransport.syncFiles', () => {
  it('writes files and empty dirs with mode and mtime, and skips unchanged ones the second time', async () => {
    const node = join(scratch, 'node-a');
    const t = new LocalTransport(node);
    const files = [syncFile('run.sh', '#!/bin/sh\n', 1_700_000_000_123, 0o755), syncFile('sub/data.csv', 'a,b\n')];
    assert.equal(await t.syncFiles('sky_workdir', files, ['empty']), 2);
    assert.equal(await t.syncFiles('sky_workdir', files, ['empty']), 0);
    const info = await stat(join(node, 'sky_workdir/run.sh'));
    assert.equal(info.mode & 0o777, 0o755);
    assert.equal(Math.round(info.mtimeMs), 1_700_000_000_123);
    assert.ok((await stat(join(node, 'sky_workdir/empty'))).isDirectory());
    assert.equal(await t.syncFiles('sky_workdir', [syncFile('sub/data.csv', 'a,b\n1,2\n', 1_700_000_009_000)]), 1);
    assert.equal(await readFile(join(node, 'sky_workdir/sub/data.csv'), 'utf8'), 'a,b\n1,2\n');
    assert.deepEqual((await readdir(join(node, 'sky_workdir/sub'))).filter((n) => n.includes('sky-sync')), []);
  });

  it('never writes outside the node directory: absolute destinations outside, ".." paths, planted links', async () => {
    const node = join(scratch, 'node-b');
    const outside = join(scratch, 'outside');
    await mkdir(outside, { recursive: true });
    const t = new LocalTransport(node);
    assert.match(thrown(await t.syncFiles(outside, [syncFile('x', 'x')]).catch((e: unknown) => e)).message, /outside the node directory/);
    assert.match(thrown(await t.syncFiles('../outside', [syncFile('x', 'x')]).catch((e: unknown) => e)).message, /outside the node directory/);
    assert.match(thrown(await t.syncFiles('d', [syncFile('../../outside/x', 'x')]).catch((e: unknown) => e)).message, /"\.\." segment/);
    // A job plants a link to a directory outside; a later sync does not go through it.
    await mkdir(node, { recursive: true });
    await symlink(outside, join(node, 'data'));
    assert.match(thrown(await t.syncFiles('data', [syncFile('x', 'x')]).catch((e: unknown) => e)).message, /is a symbolic link/);
    assert.match(thrown(await t.syncFiles('', [syncFile('data/x', 'x')]).catch((e: unknown) => e)).message, /is a symbolic link/);
    // A link at the file's own place is replaced, not followed.
    await writeFile(join(outside, 'target'), 'keep');
    await mkdir(join(node, 'w'), { recursive: true });
    await symlink(join(outside, 'target'), join(node, 'w/f'));
    assert.equal(await t.syncFiles('w', [syncFile('f', 'new')]), 1);
    assert.equal(await readFile(join(outside, 'target'), 'utf8'), 'keep');
    assert.equal(await readFile(join(node, 'w/f'), 'utf8'), 'new');
    assert.equal(existsSync(join(outside, 'x')), false);
  });
});

describe('destinations on nodes', () => {
  it('local nodes put ~/x and /x inside the node directory; SSH nodes keep /x on the host', () => {
    const local = { kind: 'local', root: '/n' } as const;
    const ssh = { kind: 'ssh', host: 'h', port: 22, user: 'u' } as const;
    assert.equal(nodeDestination(local, '/data'), 'data');
    assert.equal(nodeDestination(local, '~/data'), 'data');
    assert.equal(nodeDestination(local, '/etc/app/conf.d'), 'etc/app/conf.d');
    assert.equal(nodeDestination(local, '~'), '');
    assert.equal(nodeDestination(local, '/'), '');
    assert.equal(nodeDestination(ssh, '/data'), '/data');
    assert.equal(nodeDestination(ssh, '~/data'), 'data');
    assert.equal(nodeDestination(ssh, '~/sky_workdir'), 'sky_workdir');
  });

  it('a single file mounted at a path: its directory and name; not at ~ or /', () => {
    assert.deepEqual(fileDestination('/etc/app.conf', 'f'), { dir: '/etc', name: 'app.conf' });
    assert.deepEqual(fileDestination('~/cfg.yaml', 'f'), { dir: '~', name: 'cfg.yaml' });
    assert.deepEqual(fileDestination('/top', 'f'), { dir: '/', name: 'top' });
    assert.deepEqual(fileDestination('~/a/b/', 'f'), { dir: '~/a', name: 'b' });
    assert.throws(() => fileDestination('~', 'f'), /cannot be placed at ~/);
    assert.throws(() => fileDestination('/', 'f'), /cannot be placed at \//);
  });
});

describe('uploadTaskFiles (SDK, before launch and exec)', () => {
  it('uploads sources that exist here, names them in uploads, leaves missing ones to the server', async () => {
    const proj = await tree('sdk-proj', { 'a.txt': 'a' });
    await writeFile(join(scratch, 'conf.yaml'), 'k: v\n');
    const uploaded: string[] = [];
    const input: TaskBody = { task: { run: 'ls', workdir: 'sdk-proj', file_mounts: { '/cfg.yaml': { source: '~/conf.yaml', mode: 'COPY' }, '/shared': '/srv/shared-data' } } };
    const body = await uploadTaskFiles(
      input,
      { serverPaths: async () => false, upload: async (path) => (uploaded.push(path), { id: `up-${String(uploaded.length).repeat(64)}`, files: 1, bytes: 1, chunks: 1, sentChunks: 1, sentBytes: 1 }), cwd: scratch, home: scratch },
    );
    assert.deepEqual(uploaded, [proj, join(scratch, 'conf.yaml')]);
    assert.deepEqual(body.uploads, { workdir: `up-${'1'.repeat(64)}`, file_mounts: { '/cfg.yaml': `up-${'2'.repeat(64)}` } });
    const task = body.task as { workdir: string; file_mounts: Record<string, unknown> };
    assert.equal(task.workdir, proj);
    assert.deepEqual(task.file_mounts['/cfg.yaml'], { source: join(scratch, 'conf.yaml'), mode: 'COPY' });
    assert.equal(task.file_mounts['/shared'], '/srv/shared-data');
  });

  it('a list of sources becomes one mount per listed path, each uploaded on its own', async () => {
    await writeFile(join(scratch, 'one.txt'), '1\n');
    const dir = await tree('sdk-list-dir', { 'b.txt': 'b' });
    const uploaded: string[] = [];
    const upload = async (path: string) => (uploaded.push(path), { id: `up-${String(uploaded.length).repeat(64)}`, files: 1, bytes: 1, chunks: 1, sentChunks: 1, sentBytes: 1 });
    const input: TaskBody = { task: { run: 'ls', file_mounts: { '/inputs/': { source: ['one.txt', 'sdk-list-dir/'], mode: 'COPY' } } } };
    const body = await uploadTaskFiles(input, { serverPaths: async () => false, upload, cwd: scratch, home: scratch });
    assert.deepEqual(uploaded, [join(scratch, 'one.txt'), dir]);
    assert.deepEqual((body.task as { file_mounts: Record<string, unknown> }).file_mounts, { '/inputs/one.txt': join(scratch, 'one.txt'), '/inputs/sdk-list-dir': dir });
    assert.deepEqual(body.uploads?.file_mounts, { '/inputs/one.txt': `up-${'1'.repeat(64)}`, '/inputs/sdk-list-dir': `up-${'2'.repeat(64)}` });
    // Two sources of the same name are left as written: the server refuses them, saying why.
    const clash = { task: { run: 'ls', file_mounts: { '/m': { source: ['a/x.txt', 'b/x.txt'] } } } };
    const left = await uploadTaskFiles(clash, { serverPaths: async () => false, upload: async () => assert.fail('nothing is uploaded'), cwd: scratch });
    assert.deepEqual((left.task as { file_mounts: unknown }).file_mounts, clash.task.file_mounts);
  });

  it("uploads nothing for the server's owner (its own paths), but a missing path is an error at once; nothing on a dry run", async () => {
    const never = async (): Promise<never> => assert.fail('nothing is uploaded');
    const mine: TaskBody = { task: { workdir: scratch } };
    const same = await uploadTaskFiles(mine, { serverPaths: async () => true, upload: never });
    assert.equal(same.uploads, undefined);
    await assert.rejects(uploadTaskFiles({ task: { workdir: 'gone' } }, { serverPaths: async () => true, upload: never, cwd: scratch }), /workdir: gone does not exist/);
    const dry = { task: { workdir: scratch }, dryrun: true };
    assert.equal(await uploadTaskFiles(dry, { serverPaths: never, upload: never }), dry);
  });
});
