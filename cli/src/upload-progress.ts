import type { TaskUploadProgress } from '@sky/client';

/** 52.4 MB, 310 KB, 12 bytes. */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]!}`;
}

/** The lines `sky launch`/`sky exec` print while a task's files are uploaded (once announced, once sent). */
export function uploadLine(p: TaskUploadProgress): string | undefined {
  const what = `${p.field} ${p.path} (${p.files} file${p.files === 1 ? '' : 's'}, ${formatSize(p.bytes)})`;
  if (p.sentChunks === 0) {
    if (p.missingChunks === 0) return `Uploading ${what}: already on the API server, nothing to send.`;
    return `Uploading ${what}: sending ${p.missingChunks} of ${p.chunks} chunk(s), ${formatSize(p.missingBytes)}...`;
  }
  if (p.sentChunks === p.missingChunks) return `Uploaded ${p.field}: ${p.sentChunks} chunk(s) sent.`;
  return undefined;
}
