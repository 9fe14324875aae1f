import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { AuditRecord } from '@sky/protocol';
import { auditTable, auditTime, parseSince } from '../../cli/src/audit-format.js';

const NOW = Date.UTC(2026, 0, 31, 12, 0, 0);

describe('sky api audit --since', () => {
  it('takes relative ages before now', () => {
    assert.equal(parseSince('1h', NOW), NOW - 3_600_000);
    assert.equal(parseSince('2d', NOW), NOW - 2 * 86_400_000);
    assert.equal(parseSince('30m', NOW), NOW - 30 * 60_000);
    assert.equal(parseSince('45s', NOW), NOW - 45_000);
    assert.equal(parseSince('1w', NOW), NOW - 7 * 86_400_000);
    assert.equal(parseSince('1.5h', NOW), NOW - 5_400_000);
    assert.equal(parseSince(' 2D ', NOW), NOW - 2 * 86_400_000);
  });

  it('takes ISO dates, date-times and unix milliseconds', () => {
    assert.equal(parseSince('2026-01-30', NOW), Date.UTC(2026, 0, 30));
    assert.equal(parseSince('2026-01-30T08:15:00Z', NOW), Date.UTC(2026, 0, 30, 8, 15));
    assert.equal(parseSince('2026-01-30T08:15:00.250+02:00', NOW), Date.UTC(2026, 0, 30, 6, 15, 0, 250));
    assert.equal(parseSince('1769860800000', NOW), 1769860800000);
  });

  it('rejects anything else', () => {
    for (const bad of ['', 'yesterday', '1y', 'h', '-1h', '2026-13-45', '2026/01/30', '1h ago', '12']) {
      assert.equal(parseSince(bad, NOW), undefined, bad);
    }
  });
});

describe('sky api audit table', () => {
  const records: AuditRecord[] = [
    { id: 'b', at: NOW, user: 'u-1', userName: 'alice', action: 'down', target: 'alice-c', result: 'SUCCEEDED', requestId: 'req2' },
    { id: 'a', at: NOW - 61_000, user: 'u-2', userName: 'bob', action: 'down', target: 'alice-c', result: 'DENIED', requestId: 'req1', detail: 'FORBIDDEN' },
    { id: '9', at: NOW - 3_600_000, user: 'u-0', userName: 'admin', action: 'user.create', target: 'alice', result: 'SUCCEEDED', detail: 'role user' },
    { id: '8', at: NOW - 7_200_000, user: 'u-0', userName: 'admin', action: 'user.import', result: 'SUCCEEDED' },
  ];

  it('shows TIME USER ACTION TARGET RESULT REQUEST, newest first, failures with their code', () => {
    assert.deepEqual(auditTable(records), [
      'TIME                  USER   ACTION       TARGET   RESULT              REQUEST',
      '2026-01-31 12:00:00Z  alice  down         alice-c  SUCCEEDED           req2',
      '2026-01-31 11:58:59Z  bob    down         alice-c  DENIED (FORBIDDEN)  req1',
      '2026-01-31 11:00:00Z  admin  user.create  alice    SUCCEEDED           -',
      '2026-01-31 10:00:00Z  admin  user.import  -        SUCCEEDED           -',
    ]);
  });

  it('prints times in UTC to the second', () => {
    assert.equal(auditTime(Date.UTC(2026, 4, 1, 3, 4, 5, 999)), '2026-05-01 03:04:05Z');
  });
});
