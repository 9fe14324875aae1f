import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Koa from 'koa';
import { jobLineText, sendTextLog } from '../../core/daemon/src/http/text-log.js';

/*
 * The whole-log download: the text is pulled from the log as the client reads it (a slow or
 * paused client holds the reading back instead of the daemon buffering the log), and a client
 * that goes away ends the reading.
 */

const CHUNK = `${'x'.repeat(1023)}\n`;
let server: Server;
let url: string;
const state = { produced: 0, finished: false, aborted: false };

before(async () => {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx) => {
    sendTextLog(ctx, 'big log?.log', async function* (signal) {
      signal.addEventListener('abort', () => (state.aborted = true));
      try {
        for (;;) {
          state.produced += 1;
          yield CHUNK;
        }
      } finally {
        state.finished = true;
      }
    });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

describe('whole-log text download', () => {
  it('is produced as the client reads, stops when the client leaves, and names a safe file', async () => {
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => request(url, resolve).on('error', reject).end());
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="big_log_.log"');
    res.pause();
    await new Promise((r) => setTimeout(r, 300));
    const held = state.produced;
    await new Promise((r) => setTimeout(r, 300));
    // A paused reader: the producer stops once the stream's and the sockets' buffers are full (a few MB at most), not at the end of an endless log.
    assert.equal(state.produced, held, 'the log kept being read while nobody took it');
    assert.ok(held * CHUNK.length < 32 * 1024 * 1024, `read ${held} KB ahead of a paused client`);
    let got = 0;
    res.on('data', (c: Buffer) => (got += c.length));
    res.resume();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(state.produced > held, 'reading did not go on once the client read again');
    assert.ok(got > 0);
    res.destroy();
    for (let i = 0; i < 50 && !state.finished; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(state.finished, true, 'the log is still being read after the client left');
    assert.equal(state.aborted, true);
  });

  it('labels the lines of a multi-node job as the CLI does, and leaves a one-node job as is', () => {
    assert.equal(jobLineText({ rank: 0, text: 'hello' }, 1), 'hello\n');
    assert.equal(jobLineText({ rank: 0, text: 'hello\n' }, 1), 'hello\n');
    assert.equal(jobLineText({ rank: 1, text: 'a\nb' }, 2, ['10.0.0.1', '10.0.0.2']), '(worker1, rank=1, ip=10.0.0.2) a\n(worker1, rank=1, ip=10.0.0.2) b\n');
    assert.equal(jobLineText({ rank: 0, text: 'x' }, 2), '(head, rank=0) x\n');
    assert.equal(jobLineText({ rank: 0, text: 'x' }, undefined), 'x\n');
    assert.equal(jobLineText({ rank: 2, text: 'x' }, undefined), '(worker2, rank=2) x\n');
  });
});
