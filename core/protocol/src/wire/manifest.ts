// Uploads: what a client sends instead of paths on the API server's host. A directory (or one
// file) is described by a manifest; file contents travel as content-addressed chunks. This file
// is zod-free so clients can build and check manifests without loading the schemas.

/** Files are cut into chunks of this many bytes (the last one of a file may be shorter). */
export const UPLOAD_CHUNK_BYTES = 4 * 1024 * 1024;

/** `up-` and 64 hex digits. */
export const UPLOAD_ID_PATTERN = /^up-[0-9a-f]{64}$/;
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** Longest relative path, and longest path segment, in bytes (Linux's PATH_MAX and NAME_MAX). */
export const MAX_UPLOAD_PATH_BYTES = 4096;
export const MAX_UPLOAD_SEGMENT_BYTES = 255;

export interface ManifestFile {
  /** Relative to the uploaded directory, '/'-separated; for a single-file upload, the file's name. */
  path: string;
  /** Permission bits (0 to 0o777). */
  mode: number;
  mtimeMs: number;
  size: number;
  /** sha256 (hex) of each UPLOAD_CHUNK_BYTES piece, in order; none for an empty file. */
  chunks: string[];
}

export interface UploadManifest {
  /** A directory tree, or a single file. */
  kind: 'dir' | 'file';
  files: ManifestFile[];
  /** Directories to create even when empty, relative like file paths. */
  dirs: string[];
}

/** Limits a manifest is checked against (the daemon's uploads config). */
export interface ManifestLimits {
  maxFiles: number;
  maxBytes: number;
}

/** Why a relative upload path is unusable, or undefined when it is fine. */
export function uploadPathProblem(path: string): string | undefined {
  if (path === '') return 'is empty';
  if (Buffer.byteLength(path) > MAX_UPLOAD_PATH_BYTES) return `is longer than ${MAX_UPLOAD_PATH_BYTES} bytes`;
  if (/[\x00-\x1f\x7f]/.test(path)) return 'has a control character';
  if (path.startsWith('/')) return 'is absolute; paths in a manifest are relative';
  for (const segment of path.split('/')) {
    if (segment === '') return 'has an empty segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
    if (Buffer.byteLength(segment) > MAX_UPLOAD_SEGMENT_BYTES) return `has a segment longer than ${MAX_UPLOAD_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

/** How many chunks a file of `size` bytes has. */
export function chunkCount(size: number): number {
  return Math.ceil(size / UPLOAD_CHUNK_BYTES);
}

/** Bytes of chunk `index` of a file of `size` bytes. */
export function chunkLength(size: number, index: number): number {
  return Math.min(UPLOAD_CHUNK_BYTES, size - index * UPLOAD_CHUNK_BYTES);
}

/** Total bytes of the files of a manifest. */
export function manifestBytes(manifest: UploadManifest): number {
  return manifest.files.reduce((n, f) => n + f.size, 0);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** `x/y/z` → `x`, `x/y`. */
function ancestors(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

const MAX_PROBLEMS = 20;

/**
 * Every problem of a manifest (at most 20), as "where: what" lines; empty when it is usable.
 * Checks the shape, each path (relative, no "." or ".." segments, no control characters),
 * duplicates (a path twice, or a path both a file and a directory, or a file used as a
 * directory), sizes against their chunk lists, and the limits.
 */
export function manifestProblems(value: unknown, limits: ManifestLimits): string[] {
  const problems: string[] = [];
  const add = (line: string): boolean => {
    problems.push(line);
    return problems.length >= MAX_PROBLEMS;
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['manifest: expected an object with kind, files and dirs'];
  const m = value as Partial<Record<keyof UploadManifest, unknown>>;
  if (m.kind !== 'dir' && m.kind !== 'file') add('kind: expected "dir" or "file"');
  if (!Array.isArray(m.files)) add('files: expected a list');
  if (!Array.isArray(m.dirs)) add('dirs: expected a list');
  for (const key of Object.keys(m)) if (key !== 'kind' && key !== 'files' && key !== 'dirs') add(`${key}: unknown field`);
  if (problems.length > 0) return problems;
  const files = m.files as unknown[];
  const dirs = m.dirs as unknown[];
  if (files.length + dirs.length > limits.maxFiles) {
    return [`files: ${files.length} files and ${dirs.length} directories exceed the limit of ${limits.maxFiles} entries`];
  }
  if (m.kind === 'file' && (files.length !== 1 || dirs.length !== 0)) add('kind: a "file" upload has exactly one file and no dirs');
  const filePaths = new Set<string>();
  const dirPaths = new Set<string>();
  let total = 0;
  for (const [i, raw] of files.entries()) {
    const at = `files[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      if (add(`${at}: expected an object with path, mode, mtimeMs, size and chunks`)) return problems;
      continue;
    }
    const f = raw as Partial<Record<keyof ManifestFile, unknown>>;
    for (const key of Object.keys(f)) {
      if (!['path', 'mode', 'mtimeMs', 'size', 'chunks'].includes(key) && add(`${at}.${key}: unknown field`)) return problems;
    }
    if (typeof f.path !== 'string') {
      if (add(`${at}.path: expected a string`)) return problems;
    } else {
      const bad = uploadPathProblem(f.path);
      if (bad !== undefined && add(`${at}.path: ${JSON.stringify(f.path.slice(0, 200))} ${bad}`)) return problems;
      if (m.kind === 'file' && f.path.includes('/') && add(`${at}.path: the file of a "file" upload is a plain name`)) return problems;
      if (filePaths.has(f.path) && add(`${at}.path: ${JSON.stringify(f.path)} is listed twice`)) return problems;
      filePaths.add(f.path);
    }
    if (!isCount(f.mode) || f.mode > 0o777) {
      if (add(`${at}.mode: expected permission bits from 0 to 0o777 (511)`)) return problems;
    }
    if (typeof f.mtimeMs !== 'number' || !Number.isFinite(f.mtimeMs) || f.mtimeMs < 0 || f.mtimeMs > 8.64e15) {
      if (add(`${at}.mtimeMs: expected a time in milliseconds since 1970`)) return problems;
    }
    if (!isCount(f.size)) {
      if (add(`${at}.size: expected a whole number of bytes`)) return problems;
      continue;
    }
    total += f.size;
    if (!Array.isArray(f.chunks) || !f.chunks.every((c) => typeof c === 'string' && SHA256_PATTERN.test(c))) {
      if (add(`${at}.chunks: expected a list of sha256 digests (64 lowercase hex digits)`)) return problems;
    } else if (f.chunks.length !== chunkCount(f.size)) {
      if (add(`${at}.chunks: a file of ${f.size} bytes has ${chunkCount(f.size)} chunk(s) of ${UPLOAD_CHUNK_BYTES} bytes, not ${f.chunks.length}`)) return problems;
    }
  }
  for (const [i, raw] of dirs.entries()) {
    const at = `dirs[${i}]`;
    if (typeof raw !== 'string') {
      if (add(`${at}: expected a string`)) return problems;
      continue;
    }
    const bad = uploadPathProblem(raw);
    if (bad !== undefined && add(`${at}: ${JSON.stringify(raw.slice(0, 200))} ${bad}`)) return problems;
    if (dirPaths.has(raw) && add(`${at}: ${JSON.stringify(raw)} is listed twice`)) return problems;
    if (filePaths.has(raw) && add(`${at}: ${JSON.stringify(raw)} is also a file`)) return problems;
    dirPaths.add(raw);
  }
  for (const path of [...filePaths, ...dirPaths]) {
    const parent = ancestors(path).find((a) => filePaths.has(a));
    if (parent !== undefined && add(`files: ${JSON.stringify(parent)} is a file, so ${JSON.stringify(path)} cannot be inside it`)) return problems;
  }
  if (total > limits.maxBytes) add(`files: ${total} bytes in all exceed the limit of ${limits.maxBytes} bytes per upload`);
  return problems;
}
