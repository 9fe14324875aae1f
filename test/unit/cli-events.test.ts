import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FeedEvent } from '@sky/protocol';
import { eventJsonLine, eventLine, eventStatus, parseFeedPosition } from '../../cli/src/event-format.js';

const AT = Date.UTC(2026, 0, 31, 12, 0, 5);

describe('sky api events lines', () => {
  it('prints time, #seq, kind, key and status in fixed columns', () => {
    const job: FeedEvent = { seq: 42, at: AT, kind: 'job', key: 'dev/3', record: { status: 'RUNNING', id: 3 } };
    assert.equal(eventLine(job), `2026-01-31 12:00:05Z  #42  job         dev/3${' '.repeat(19)}  RUNNING`);
    const cluster: FeedEvent = { seq: 43, at: AT, kind: 'cluster', key: 'dev', record: { status: 'UP' } };
    const a = eventLine(job);
    const b = eventLine(cluster);
    assert.equal(a.indexOf('dev/3'), b.indexOf('dev'), 'keys line up');
  });

  it('shows DELETED for a deletion and - for a record without a status', () => {
    assert.equal(eventStatus({ seq: 1, at: AT, kind: 'cluster', key: 'gone', record: null }), 'DELETED');
    assert.equal(eventStatus({ seq: 1, at: AT, kind: 'service', key: 's', record: {} }), '-');
    assert.match(eventLine({ seq: 7, at: AT, kind: 'cluster', key: 'gone', record: null }), /#7 {2}cluster {5}gone +DELETED$/);
  });

  it('-o json: one object per line with the status and the record', () => {
    const line = eventJsonLine({ seq: 5, at: AT, kind: 'managedJob', key: '12', record: { status: 'SUCCEEDED', name: 'train' } });
    assert.ok(!line.includes('\n'));
    assert.deepEqual(JSON.parse(line), { seq: 5, at: AT, kind: 'managedJob', key: '12', status: 'SUCCEEDED', record: { status: 'SUCCEEDED', name: 'train' } });
  });

  it('--since takes a feed position (with or without #), not a time', () => {
    assert.equal(parseFeedPosition('1234'), 1234);
    assert.equal(parseFeedPosition('#0'), 0);
    assert.equal(parseFeedPosition(' 77 '), 77);
    for (const bad of ['10m', '2026-01-31', '-1', '1.5', '', '99999999999999999']) assert.equal(parseFeedPosition(bad), undefined, bad);
  });
});
