import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { age, columnTable, duration, table } from '../../cli/src/format.js';

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

describe('columnTable', () => {
  it('lays out columns exactly as table() lays out the same rows', () => {
    const rows = [
      ['c-1', 'alice', 'python train.py'],
      ['c-22', 'bob-the-builder', ''],
      ['c-3', '', 'ends in a space '],
      ['ü', 'ｂｏｂ', 'tab\t'],
      ['x', 'y', '\u3000'],
      ['', '', ''],
    ];
    const headers = ['NAME', 'USER', 'COMMAND'];
    const columns = headers.map((_, i) => rows.map((r) => r[i]!));
    assert.deepEqual(columnTable(headers, columns), table(headers, rows));
    assert.deepEqual(columnTable(headers, [[], [], []]), table(headers, []));
    assert.deepEqual(columnTable(['ONLY'], [['a ', 'b']]), table(['ONLY'], [['a '], ['b']]));
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
