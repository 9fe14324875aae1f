import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LineQueue, LineSplitter, LogLines, rankLine } from '../../dashboard-static/src/logic/log-lines.js';
import { SseParser } from '../../dashboard-static/src/logic/sse-parser.js';

describe('dashboard log lines', () => {
  it('splits streamed text into lines, joining a line cut across chunks', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('one\ntw'), ['one']);
    assert.deepEqual(s.push('o\r\nthree'), ['two']);
    assert.deepEqual(s.push(''), []);
    assert.deepEqual(s.push('\n\n'), ['three', '']);
    assert.deepEqual(s.flush(), []);
    s.push('last without newline');
    assert.deepEqual(s.flush(), ['last without newline']);
    assert.deepEqual(s.flush(), []);
  });

  it('keeps at most its cap of lines, dropping the oldest, and counts what it dropped', () => {
    const lines = new LogLines(100);
    lines.append(Array.from({ length: 100 }, (_, i) => `l${i}`));
    assert.equal(lines.length, 100);
    assert.equal(lines.dropped, 0);
    lines.append(['l100']);
    assert.equal(lines.dropped, 1);
    assert.equal(lines.length, 100);
    assert.deepEqual(lines.slice(0, 2), ['l1', 'l2']);
    assert.deepEqual(lines.slice(99, 100), ['l100']);
    lines.append(Array.from({ length: 250 }, (_, i) => `m${i}`));
    assert.equal(lines.length, 100);
    assert.equal(lines.dropped, 251);
    // The window wraps around the ring: still oldest first, in order.
    assert.deepEqual(lines.slice(0, 3), ['m150', 'm151', 'm152']);
    assert.deepEqual(lines.slice(98, 105), ['m248', 'm249']);
    assert.deepEqual(lines.slice(-5, 1), ['m150']);
    lines.clear();
    assert.equal(lines.length, 0);
    assert.equal(lines.dropped, 0);
    assert.deepEqual(lines.slice(0, 10), []);
  });

  it('batches lines per frame: a drain takes at most its limit, in order, and the rest waits', () => {
    const q = new LineQueue();
    q.push(['a', 'b', 'c']);
    q.push(['d', 'e']);
    assert.equal(q.pending, 5);
    assert.deepEqual(q.drain(2), ['a', 'b']);
    assert.equal(q.pending, 3);
    assert.deepEqual(q.drain(10), ['c', 'd', 'e']);
    assert.equal(q.pending, 0);
    assert.deepEqual(q.drain(10), []);
  });

  it('drains a million queued lines in bounded batches without losing or reordering any', () => {
    const q = new LineQueue();
    const total = 1_000_000;
    for (let i = 0; i < total; i += 1000) q.push(Array.from({ length: 1000 }, (_, j) => String(i + j)));
    let seen = 0;
    let batches = 0;
    while (q.pending > 0) {
      const batch = q.drain(20_000);
      assert.ok(batch.length <= 20_000);
      assert.equal(batch[0], String(seen));
      seen += batch.length;
      batches++;
    }
    assert.equal(seen, total);
    assert.equal(batches, total / 20_000);
  });

  it('labels the lines of a multi-node job with their rank', () => {
    assert.equal(rankLine(1, 'hello', true), '(rank 1) hello');
    assert.equal(rankLine(0, 'hello', false), 'hello');
    assert.equal(rankLine(undefined, 'hello', true), 'hello');
  });
});

describe('dashboard event-stream parser', () => {
  it('reads events cut anywhere across chunks, with comments, ids and multi-line data', () => {
    const p = new SseParser();
    const all = [
      ...p.push(': open\n\nretry: 3000\n\nid: 4'),
      ...p.push('2\nevent: log\ndata: {"rank":0,"te'),
      ...p.push('xt":"hi"}\n\n: ping\n\nevent: end\r\ndata: {"status":"SUCCEEDED"}\r\n\r\n'),
      ...p.push('data: a\ndata: b\n\n'),
    ];
    assert.deepEqual(all, [
      { event: 'log', data: '{"rank":0,"text":"hi"}', id: '42' },
      { event: 'end', data: '{"status":"SUCCEEDED"}', id: '42' },
      { event: 'message', data: 'a\nb', id: '42' },
    ]);
  });

  it('holds an unfinished event until its blank line comes', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('event: log\ndata: x\n'), []);
    assert.deepEqual(p.push('\n'), [{ event: 'log', data: 'x' }]);
    // An event without data is not dispatched.
    assert.deepEqual(p.push('event: nothing\n\n'), []);
  });
});
