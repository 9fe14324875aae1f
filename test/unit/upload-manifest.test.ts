import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { manifestProblems, remotePathProblem, UPLOAD_CHUNK_BYTES, uploadPathProblem, type ManifestFile, type UploadManifest } from '@sky/protocol';
import { Rng } from '../helpers/fuzz.js';

/*
 * The manifest a client sends instead of server paths: every path, size, count and duplicate
 * rule, as a table, then random manifests (valid ones mutated) that must never throw and must
 * be refused whenever a path could leave its destination.
 */

const LIMITS = { maxFiles: 50, maxBytes: 20 * UPLOAD_CHUNK_BYTES };
const SHA = 'a'.repeat(64);
const SHA2 = 'b'.repeat(64);

function file(path: string, fields: Partial<ManifestFile> = {}): ManifestFile {
  return { path, mode: 0o644, mtimeMs: 1_700_000_000_000, size: 3, chunks: [SHA], ...fields };
}

function dir(files: ManifestFile[], dirs: string[] = []): UploadManifest {
  return { kind: 'dir', files, dirs };
}

interface Row {
  name: string;
  manifest: unknown;
  /** Fragments of the problems; none for a valid manifest. */
  problems?: Array<string | RegExp>;
}

const ROWS: Row[] = [
  { name: 'a plain tree', manifest: dir([file('a.txt'), file('src/main.py'), file('src/lib/x.py')], ['empty', 'src/empty']) },
  { name: 'an empty tree', manifest: dir([]) },
  { name: 'an empty file has no chunks', manifest: dir([file('e', { size: 0, chunks: [] })]) },
  { name: 'a file of exactly one chunk', manifest: dir([file('big', { size: UPLOAD_CHUNK_BYTES, chunks: [SHA] })]) },
  { name: 'a file one byte over one chunk has two', manifest: dir([file('big', { size: UPLOAD_CHUNK_BYTES + 1, chunks: [SHA, SHA2] })]) },
  { name: 'a single file', manifest: { kind: 'file', files: [file('app.conf')], dirs: [] } },
  { name: 'names with spaces, unicode and dots inside', manifest: dir([file('a b/ü.txt'), file('.hidden/..x'), file('x../y')]) },
  // paths
  { name: 'absolute path', manifest: dir([file('/etc/shadow')]), problems: ['files[0].path: "/etc/shadow" is absolute'] },
  { name: 'parent segment', manifest: dir([file('../x')]), problems: ['files[0].path: "../x" has a ".." segment'] },
  { name: 'parent segment deeper', manifest: dir([file('a/../../x')]), problems: ['has a ".." segment'] },
  { name: 'dot segment', manifest: dir([file('./x')]), problems: ['has a "." segment'] },
  { name: 'empty path', manifest: dir([file('')]), problems: ['files[0].path: "" is empty'] },
  { name: 'double slash', manifest: dir([file('a//b')]), problems: ['has an empty segment'] },
  { name: 'trailing slash', manifest: dir([file('a/')]), problems: ['has an empty segment'] },
  { name: 'NUL byte', manifest: dir([file('a\u0000b')]), problems: ['has a control character'] },
  { name: 'newline', manifest: dir([file('a\nb')]), problems: ['has a control character'] },
  { name: 'segment too long', manifest: dir([file('x'.repeat(256))]), problems: ['has a segment longer than 255 bytes'] },
  { name: 'path too long', manifest: dir([file(Array.from({ length: 20 }, () => 'y'.repeat(250)).join('/'))]), problems: ['is longer than 4096 bytes'] },
  { name: 'dir with a parent segment', manifest: dir([], ['a/..']), problems: ['dirs[0]: "a/.." has a ".." segment'] },
  { name: 'absolute dir', manifest: dir([], ['/tmp']), problems: ['dirs[0]: "/tmp" is absolute'] },
  // duplicates
  { name: 'a file listed twice', manifest: dir([file('a'), file('a')]), problems: ['files[1].path: "a" is listed twice'] },
  { name: 'a dir listed twice', manifest: dir([], ['d', 'd']), problems: ['dirs[1]: "d" is listed twice'] },
  { name: 'a path both file and dir', manifest: dir([file('a')], ['a']), problems: ['dirs[0]: "a" is also a file'] },
  { name: 'a file used as a directory', manifest: dir([file('a'), file('a/b')]), problems: ['"a" is a file, so "a/b" cannot be inside it'] },
  { name: 'a file used as a directory by a dir entry', manifest: dir([file('a')], ['a/b/c']), problems: ['"a" is a file, so "a/b/c" cannot be inside it'] },
  // sizes and chunks
  { name: 'negative size', manifest: dir([file('a', { size: -1 })]), problems: ['files[0].size: expected a whole number of bytes'] },
  { name: 'fractional size', manifest: dir([file('a', { size: 1.5 })]), problems: ['files[0].size'] },
  { name: 'too few chunks', manifest: dir([file('a', { size: UPLOAD_CHUNK_BYTES + 1 })]), problems: [/has 2 chunk\(s\) of \d+ bytes, not 1/] },
  { name: 'chunks for an empty file', manifest: dir([file('a', { size: 0 })]), problems: ['has 0 chunk(s)'] },
  { name: 'a chunk that is not a digest', manifest: dir([file('a', { chunks: ['../../etc/passwd'] })]), problems: ['files[0].chunks: expected a list of sha256 digests'] },
  { name: 'an upper-case digest', manifest: dir([file('a', { chunks: ['A'.repeat(64)] })]), problems: ['files[0].chunks'] },
  { name: 'mode with setuid', manifest: dir([file('a', { mode: 0o4755 })]), problems: ['files[0].mode'] },
  { name: 'negative mtime', manifest: dir([file('a', { mtimeMs: -5 })]), problems: ['files[0].mtimeMs'] },
  { name: 'NaN mtime', manifest: dir([file('a', { mtimeMs: Number.NaN })]), problems: ['files[0].mtimeMs'] },
  // limits
  { name: 'too many entries', manifest: dir(Array.from({ length: 40 }, (_, i) => file(`f${i}`)), Array.from({ length: 11 }, (_, i) => `d${i}`)), problems: ['40 files and 11 directories exceed the limit of 50 entries'] },
  {
    name: 'too many bytes',
    manifest: dir([file('a', { size: 21 * UPLOAD_CHUNK_BYTES, chunks: Array.from({ length: 21 }, () => SHA) })]),
    problems: [`${21 * UPLOAD_CHUNK_BYTES} bytes in all exceed the limit of ${20 * UPLOAD_CHUNK_BYTES} bytes per upload`],
  },
  // shape
  { name: 'not an object', manifest: [1, 2], problems: ['manifest: expected an object'] },
  { name: 'unknown kind', manifest: { kind: 'link', files: [], dirs: [] }, problems: ['kind: expected "dir" or "file"'] },
  { name: 'unknown field', manifest: { kind: 'dir', files: [], dirs: [], owner: 'u-1' }, problems: ['owner: unknown field'] },
  { name: 'unknown file field', manifest: dir([{ ...file('a'), source: '/etc/shadow' } as ManifestFile]), problems: ['files[0].source: unknown field'] },
  { name: 'a file entry that is a string', manifest: { kind: 'dir', files: ['a'], dirs: [] }, problems: ['files[0]: expected an object'] },
  { name: 'a single-file upload with two files', manifest: { kind: 'file', files: [file('a'), file('b')], dirs: [] }, problems: ['exactly one file'] },
  { name: 'a single-file upload with a path', manifest: { kind: 'file', files: [file('a/b')], dirs: [] }, problems: ['a plain name'] },
];

describe('upload manifest validation', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const problems = manifestProblems(row.manifest, LIMITS);
      if (row.problems === undefined) {
        assert.deepEqual(problems, []);
        return;
      }
      assert.ok(problems.length > 0, 'expected problems');
      const text = problems.join('\n');
      for (const fragment of row.problems) {
        if (typeof fragment === 'string') assert.ok(text.includes(fragment), `${JSON.stringify(fragment)} not in:\n${text}`);
        else assert.match(text, fragment);
      }
    });
  }

  it('reports at most 20 problems', () => {
    const bad = dir(Array.from({ length: 45 }, () => file('/abs')));
    assert.equal(manifestProblems(bad, LIMITS).length, 20);
  });

  it('file mount destinations: absolute or ~/, never a ".." segment or a control character', () => {
    for (const ok of ['/data', '~/cfg.yaml', '~', '/a/b..c', '/x/.y']) assert.equal(remotePathProblem(ok), undefined, ok);
    assert.match(remotePathProblem('data') ?? '', /must be absolute or start with ~\//);
    assert.match(remotePathProblem('/data/../../etc') ?? '', /has a "\.\." segment/);
    assert.match(remotePathProblem('~/..') ?? '', /has a "\.\." segment/);
    assert.match(remotePathProblem('/a\nb') ?? '', /control character/);
  });
});

describe('upload manifest fuzz', () => {
  const seed = Number(process.env.SKY_FUZZ_SEED ?? Date.now() % 1_000_000);
  const SEGMENTS = ['a', 'b', '..', '.', '', 'x y', 'ü', '/', '\u0000', 'c'.repeat(256), '~', 'd\n'];

  function randomPath(rng: Rng): string {
    const parts = Array.from({ length: rng.int(0, 4) }, () => rng.pick(SEGMENTS));
    return (rng.chance(0.1) ? '/' : '') + parts.join('/');
  }

  function randomValue(rng: Rng): unknown {
    return rng.pick([undefined, null, -1, 0, 1.5, Number.NaN, 2 ** 60, 'x', [], {}, [SHA], true, SHA]);
  }

  function mutate(rng: Rng, manifest: UploadManifest): unknown {
    const m = structuredClone(manifest) as unknown as Record<string, unknown>;
    for (let i = rng.int(1, 3); i > 0; i -= 1) {
      const files = Array.isArray(m.files) ? (m.files as Array<Record<string, unknown>>) : [];
      const dirs = Array.isArray(m.dirs) ? (m.dirs as unknown[]) : [];
      const f = files.length > 0 && typeof files[0] === 'object' ? rng.pick(files) : undefined;
      const choice = rng.int(0, 6);
      if (choice === 0 && f) f.path = randomPath(rng);
      else if (choice === 1 && f) f[rng.pick(['mode', 'mtimeMs', 'size', 'chunks', 'path', 'extra'])] = randomValue(rng);
      else if (choice === 2) dirs.push(rng.chance(0.5) ? randomPath(rng) : randomValue(rng));
      else if (choice === 3 && f) files.push({ ...f });
      else if (choice === 4) m[rng.pick(['kind', 'files', 'dirs', 'other'])] = randomValue(rng);
      else if (choice === 5 && f) f.chunks = Array.from({ length: rng.int(0, 3) }, () => rng.pick([SHA, SHA2, 'zz']));
      else files.push({ ...file(randomPath(rng)) });
    }
    return m;
  }

  it(`never throws, and refuses every path that could leave its destination (seed ${seed})`, () => {
    console.log(`upload manifest fuzz seed: ${seed} (SKY_FUZZ_SEED=${seed} repeats it)`);
    const rng = new Rng(seed);
    const base = dir([file('a.txt'), file('src/main.py'), file('big', { size: UPLOAD_CHUNK_BYTES + 1, chunks: [SHA, SHA2] })], ['empty']);
    for (let i = 0; i < 3000; i += 1) {
      const candidate = mutate(rng, base);
      const problems = manifestProblems(candidate, LIMITS);
      assert.ok(Array.isArray(problems));
      if (problems.length > 0) continue;
      // Accepted: every path must be a safe relative path, each listed once.
      const accepted = candidate as UploadManifest;
      const paths = [...accepted.files.map((f) => f.path), ...accepted.dirs];
      assert.equal(new Set(paths).size, paths.length, `duplicates accepted: ${JSON.stringify(paths)}`);
      for (const path of paths) {
        assert.equal(uploadPathProblem(path), undefined, `accepted ${JSON.stringify(path)}`);
        assert.ok(!path.split('/').includes('..') && !path.startsWith('/'), `accepted ${JSON.stringify(path)}`);
      }
    }
  });
});
