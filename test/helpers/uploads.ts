import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chunkCount, chunkLength, UPLOAD_CHUNK_BYTES, type UploadManifest } from '@sky/protocol';
import { http } from './daemon-process.js';

/** A manifest for in-memory files (path → bytes), and each chunk's bytes by digest. */
export function manifestOf(files: Record<string, string | Buffer>, dirs: string[] = [], kind: 'dir' | 'file' = 'dir'): { manifest: UploadManifest; chunks: Map<string, Buffer> } {
  const chunks = new Map<string, Buffer>();
  const entries = Object.entries(files).map(([path, content]) => {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const digests: string[] = [];
    for (let i = 0; i < chunkCount(data.length); i += 1) {
      const piece = data.subarray(i * UPLOAD_CHUNK_BYTES, i * UPLOAD_CHUNK_BYTES + chunkLength(data.length, i));
      const sha = createHash('sha256').update(piece).digest('hex');
      chunks.set(sha, piece);
      digests.push(sha);
    }
    return { path, mode: 0o644, mtimeMs: 1_700_000_000_000, size: data.length, chunks: digests };
  });
  return { manifest: { kind, files: entries, dirs }, chunks };
}

/** Upload in-memory files through the REST API with `headers` (JSON content-type included); resolves with the upload id. */
export async function uploadFiles(url: string, headers: Record<string, string>, files: Record<string, string | Buffer>, kind: 'dir' | 'file' = 'dir'): Promise<string> {
  const { manifest, chunks } = manifestOf(files, [], kind);
  const res = await http(`${url}/api/v1/uploads`, { method: 'POST', headers, body: JSON.stringify(manifest) });
  assert.equal(res.status, 200, res.text);
  const created = res.json() as { id: string; missing: string[] };
  for (const sha of created.missing) {
    const put = await http(`${url}/api/v1/uploads/chunks/${sha}`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: chunks.get(sha)! });
    assert.equal(put.status, 201, put.text);
  }
  return created.id;
}
