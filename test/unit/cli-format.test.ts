import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { age, duration, table } from '../../cli/src/format.js';

describe('table', () => {
  it('aligns columns two spaces apart without trailing blanks', () => {
    assert.deepEqual(
      table(['ID', 'USER', 'STATUS'], [
        ['abc', 'alice', 'RUNNING'],
        ['a', 'bob-the-builder', 'PENDING'],
      ]),
      ['ID   USER             STATUS', 'abc  alice            RUNNING', 'a    bob-the-builder  PENDING'],
    );
  });
});

describe('age', () => {
  it('says how long ago, in the largest sensible unit', () => {
    const now = 1_000_000_000;
    assert.equal(age(now, now), 'just now');
    assert.equal(age(now - 12_000, now), '12s ago');
    assert.equal(age(now - 5 * 60_000, now), '5m ago');
    assert.equal(age(now - 3 * 3_600_000, now), '3h ago');
    assert.equal(age(now - 3 * 86_400_000, now), '3d ago');
    assert.equal(age(now + 5_000, now), 'just now');
  });
});

describe('duration', () => {
  it('reads naturally at every scale', () => {
    assert.equal(duration(850), '850 ms');
    assert.equal(duration(2_040), '2.0 s');
    assert.equal(duration(192_000), '3m 12s');
  });
});
