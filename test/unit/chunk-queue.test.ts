import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChunkQueue, pullChunks } from '../../core/daemon/src/nodes/chunk-queue.js';

// The buffer behind NodeTransport.stream: bounded (the source is paused above the high-water
// mark and resumed once the reader caught up), lossless, and ending the source when the reader
// aborts or leaves early.

describe('ChunkQueue and pullChunks', () => {
  it('pauses the source above the high-water mark and resumes it once the reader took the queue', async () => {
    const calls: string[] = [];
    const queue = new ChunkQueue(10);
    queue.flow = { pause: () => calls.push('pause'), resume: () => calls.push('resume') };
    queue.push(Buffer.from('12345'));
    assert.deepEqual(calls, []);
    queue.push(Buffer.from('67890'));
    queue.push(Buffer.from('abc'));
    assert.deepEqual(calls, ['pause'], 'paused once, at the mark');
    assert.equal((await queue.next())?.toString(), '1234567890abc', 'what was queued comes whole, in order');
    assert.deepEqual(calls, ['pause', 'resume']);
    queue.end(new Error('exit 3'));
    await assert.rejects(queue.next(), /exit 3/);
  });

  it('delivers what was queued before an end, then ends; pushes after the end are dropped', async () => {
    const queue = new ChunkQueue();
    queue.push(Buffer.from('last'));
    queue.end();
    queue.push(Buffer.from('late'));
    assert.equal((await queue.next())?.toString(), 'last');
    assert.equal(await queue.next(), undefined);
  });

  it('pullChunks starts the source on the first pull, and stops it on abort and on an early break', async () => {
    let started = 0;
    let stopped = 0;
    const source = (ac: AbortController) =>
      pullChunks(ac.signal, (queue) => {
        started += 1;
        queue.push(Buffer.from('a'));
        setImmediate(() => queue.push(Buffer.from('b')));
        return () => (stopped += 1);
      });
    const ac = new AbortController();
    const iterable = source(ac);
    assert.equal(started, 0, 'nothing runs before the first pull');
    const seen: string[] = [];
    for await (const chunk of iterable) {
      seen.push(chunk.toString());
      ac.abort();
    }
    assert.deepEqual(seen, ['a']);
    assert.equal(stopped, 1);
    for await (const _ of source(new AbortController())) break;
    assert.equal(stopped, 2, 'an early break stops the source too');
    const aborted = new AbortController();
    aborted.abort();
    for await (const _ of source(aborted)) assert.fail('an aborted signal yields nothing');
    assert.equal(started, 2, 'and starts nothing');
  });
});
