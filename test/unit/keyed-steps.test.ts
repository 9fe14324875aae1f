import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedSteps } from '../../core/daemon/src/steps/keyed-steps.js';

describe('steps per key', () => {
  it('never overlaps two steps of one key, and merges asks made while one waits', async () => {
    const steps = new KeyedSteps<string>();
    let running = 0;
    let most = 0;
    let ran = 0;
    const step = async (): Promise<void> => {
      running += 1;
      most = Math.max(most, running);
      await sleep(20);
      ran += 1;
      running -= 1;
    };
    assert.equal(steps.kick('a', step), true);
    // The first is running (or about to): one more waits, and the asks after it merge into it.
    await Promise.resolve();
    assert.equal(steps.kick('a', step), true);
    assert.equal(steps.kick('a', step), false);
    assert.equal(steps.kick('a', step), false);
    await steps.settled();
    assert.equal(most, 1);
    assert.equal(ran, 2);
  });

  it('runs steps of different keys side by side, and a failed step does not stop the next', async () => {
    const steps = new KeyedSteps<number>();
    let running = 0;
    let most = 0;
    const step = async (): Promise<void> => {
      running += 1;
      most = Math.max(most, running);
      await sleep(20);
      running -= 1;
    };
    steps.kick(1, step);
    steps.kick(2, step);
    steps.kick(3, () => Promise.reject(new Error('boom')));
    await steps.settled();
    assert.equal(most, 2);
    let after = false;
    steps.kick(3, async () => {
      after = true;
    });
    await steps.settled();
    assert.equal(after, true);
  });
});
