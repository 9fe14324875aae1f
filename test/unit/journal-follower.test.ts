import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalFollower } from '../../core/daemon/src/nodes/journal-follower.js';

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('journal follower (a file of the daemon account, watched)', () => {
  it('delivers whole lines written after it started, and drops a line no runner writes (over-long, as a job could append)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sky-journal-'));
    const file = join(dir, 'events', 'node.log');
    const got: string[] = [];
    const follower = new JournalFollower({ kind: 'watch', file }, { lines: async (lines) => void got.push(...lines), trouble: () => undefined, back: () => undefined });
    try {
      await follower.ready;
      await writeFile(file, 'c1-1-r0 0 RUNNING -\n');
      await until(() => got.length === 1, 'the first event');
      // A job writes 3 MB without a newline, in pieces, then ends that line; then a real event.
      for (let i = 0; i < 12; i++) await appendFile(file, 'x'.repeat(256 * 1024));
      await appendFile(file, 'tail-of-the-long-line\nc1-1-r0 0 SUCCEEDED 0\n');
      await until(() => got.length === 2, 'the event after the long line');
      assert.deepEqual(got, ['c1-1-r0 0 RUNNING -', 'c1-1-r0 0 SUCCEEDED 0']);
      assert.equal(follower.position, 12 * 256 * 1024 + 'c1-1-r0 0 RUNNING -\n'.length + 'tail-of-the-long-line\nc1-1-r0 0 SUCCEEDED 0\n'.length);
    } finally {
      follower.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
