import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobLogLine } from '@sky/protocol';

/** One launch attempt of one task, as its saved log is named: task index and attempt number. */
export interface AttemptKey {
  task: number;
  attempt: number;
}

export function attemptName(key: AttemptKey): string {
  return `${String(key.task).padStart(3, '0')}-${String(key.attempt).padStart(5, '0')}`;
}

function parseName(file: string): AttemptKey | undefined {
  const m = /^(\d{3})-(\d{5})\.ndjson$/.exec(file);
  return m ? { task: Number(m[1]), attempt: Number(m[2]) } : undefined;
}

/**
 * The logs of a managed job's attempts, copied off their cluster before it is torn down, so
 * `sky jobs logs` still has them once the cluster is gone. One file per attempt under
 * `<state dir>/managed-jobs/<id>/`, a JSON line per log line ({rank, text}), private to the daemon.
 */
export class AttemptLogs {
  constructor(private readonly root: string) {}

  private dir(id: number): string {
    return join(this.root, String(id));
  }

  /** Write an attempt's lines (replacing an earlier copy of the same attempt). */
  async save(id: number, key: AttemptKey, lines: AsyncIterable<JobLogLine>): Promise<number> {
    await mkdir(this.dir(id), { recursive: true, mode: 0o700 });
    const path = join(this.dir(id), `${attemptName(key)}.ndjson`);
    const file = await open(`${path}.part`, 'w', 0o600);
    let count = 0;
    try {
      let batch = '';
      for await (const line of lines) {
        batch += `${JSON.stringify(line)}\n`;
        count += 1;
        if (batch.length > 64 * 1024) {
          await file.write(batch);
          batch = '';
        }
      }
      if (batch.length > 0) await file.write(batch);
    } finally {
      await file.close();
    }
    await rename(`${path}.part`, path);
    return count;
  }

  /** Saved attempts of a managed job, in order (task, then attempt). */
  async list(id: number): Promise<AttemptKey[]> {
    let files: string[];
    try {
      files = await readdir(this.dir(id));
    } catch {
      return [];
    }
    return files
      .map(parseName)
      .filter((k): k is AttemptKey => k !== undefined)
      .sort((a, b) => a.task - b.task || a.attempt - b.attempt);
  }

  async read(id: number, key: AttemptKey): Promise<JobLogLine[]> {
    const text = await readFile(join(this.dir(id), `${attemptName(key)}.ndjson`), 'utf8').catch(() => '');
    const lines: JobLogLine[] = [];
    for (const row of text.split('\n')) {
      if (row.length === 0) continue;
      try {
        const parsed = JSON.parse(row) as JobLogLine;
        if (typeof parsed.text === 'string' && typeof parsed.rank === 'number') lines.push(parsed);
      } catch {
        // a torn last line of a copy cut short is skipped
      }
    }
    return lines;
  }

  async remove(id: number): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
  }
}
