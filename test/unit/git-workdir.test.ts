// A git workdir is cloned on the user's machine: a task file must not be able to run a command
// there through git's command transports, even where the user's git config allows them.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkGitWorkdir, cloneGitWorkdir } from '../../cli/src/git-workdir.js';

describe('git workdirs clone over network and file transports only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sky-git-ext-'));
  const marker = join(dir, 'ran');
  const saved = { ...process.env };
  // The user's git would allow every transport: only sky's own limit stands in the way.
  process.env.GIT_CONFIG_COUNT = '1';
  process.env.GIT_CONFIG_KEY_0 = 'protocol.allow';
  process.env.GIT_CONFIG_VALUE_0 = 'always';
  after(() => {
    for (const key of ['GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const url = `ext::sh -c touch% ${marker}`;
  it('a clone of an ext:: URL is refused and runs nothing', async () => {
    await assert.rejects(cloneGitWorkdir({ url }), (err: Error & { code?: string }) => err.code === 'TASK_INVALID');
    assert.equal(existsSync(marker), false);
  });

  it('the dry run check of an ext:: URL is refused and runs nothing', async () => {
    await assert.rejects(checkGitWorkdir({ url }), (err: Error & { code?: string }) => err.code === 'TASK_INVALID');
    assert.equal(existsSync(marker), false);
  });
});
