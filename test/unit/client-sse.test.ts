import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SkyClient, SseParser, parseEndpoint, type SseEvent } from '@sky/client';
import { SkyError, type LogChunk } from '@sky/protocol';

const STREAM = [
  ': ping\n\n',
  'event: log\ndata: {"seq":1,"at":1,"text":"héllo ✓"}\n\n',
  'event: log\r\ndata: {"seq":2,\r\ndata: "at":2,"text":"two"}\r\n\r\n',
  'data: unnamed\rid: 7\r\r',
  'event: ignored-without-data\n\n',
  'event: end\ndata: {"status":"SUCCEEDED"}\n\n',
].join('');

const EXPECTED: SseEvent[] = [
  { event: 'log', data: '{"seq":1,"at":1,"text":"héllo ✓"}', id: '' },
  { event: 'log', data: '{"seq":2,\n"at":2,"text":"two"}', id: '' },
  { event: 'message', data: 'unnamed', id: '7' },
  // The last event id stays until another id field replaces it.
  { event: 'end', data: '{"status":"SUCCEEDED"}', id: '7' },
];

describe('SseParser', () => {
  it('parses comments, named and unnamed events, multi-line data and all three line endings', () => {
    assert.deepEqual(new SseParser().push(STREAM), EXPECTED);
  });

  it('gives the same events however the stream is split into chunks', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.push(STREAM.slice(0, cut)), ...parser.push(STREAM.slice(cut))];
      assert.deepEqual(events, EXPECTED, `split at ${cut}: ${JSON.stringify(STREAM.slice(cut - 2, cut + 2))}`);
    }
    const parser = new SseParser();
    assert.deepEqual([...STREAM].flatMap((ch) => parser.push(ch)), EXPECTED);
  });

  it('keeps an event that has not been terminated by a blank line until it is', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('event: log\ndata: x\n'), []);
    assert.deepEqual(parser.push('\n'), [{ event: 'log', data: 'x', id: '' }]);
  });

  it('moves the last event id on with an id-only block, which dispatches nothing', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('id: 4\nevent: change\ndata: a\n\n: keepalive\nid: 9\n\n'), [{ event: 'change', data: 'a', id: '4' }]);
    assert.equal(parser.lastEventId, '9');
  });
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.end();
let server: Server;
let client: SkyClient;

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-sky-api-version': '1' });
  res.flushHeaders();
}

describe('streaming over HTTP', () => {
  before(async () => {
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new SkyClient({ endpoint: await parseEndpoint(`http://127.0.0.1:${port}`, 'test'), identity: { id: 'abcd1234', name: 'tester' } });
  });
  after(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('delivers log chunks, including UTF-8 split across TCP writes, and resolves with the end status', async () => {
    let url = '';
    handler = (req, res) => {
      url = req.url ?? '';
      sse(res);
      const bytes = Buffer.from(STREAM.replace('{"status":"SUCCEEDED"}', '{"status":"FAILED"}'));
      const split = bytes.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
      res.write(bytes.subarray(0, split));
      setTimeout(() => res.end(bytes.subarray(split)), 20);
    };
    const chunks: LogChunk[] = [];
    const status = await client.streamLogs('req-1', { follow: true }, (c) => chunks.push(c));
    assert.equal(status, 'FAILED');
    assert.equal(url, '/api/v1/requests/req-1/logs?follow=true');
    assert.deepEqual(chunks, [
      { seq: 1, at: 1, text: 'héllo ✓' },
      { seq: 2, at: 2, text: 'two' },
    ]);
  });

  it('throws a SkyError naming the request and how to re-attach when the stream drops before end', async () => {
    handler = (_req, res) => {
      sse(res);
      res.write('event: log\ndata: {"seq":1,"at":1,"text":"partial"}\n\n');
      setTimeout(() => res.destroy(), 20);
    };
    const chunks: LogChunk[] = [];
    await assert.rejects(client.streamLogs('req-2', {}, (c) => chunks.push(c)), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'SERVER_UNREACHABLE');
      assert.equal(
        err.message,
        `lost connection to the API server at ${client.endpoint.url} while streaming request req-2; it may still be running: sky api logs req-2`,
      );
      return true;
    });
    assert.equal(chunks.length, 1);
  });

  it('treats a stream that ends cleanly without an end event as lost, too', async () => {
    handler = (_req, res) => {
      sse(res);
      res.end('event: log\ndata: {"seq":1,"at":1,"text":"x"}\n\n');
    };
    await assert.rejects(client.streamLogs('req-3', {}, () => undefined), /lost connection/);
  });

  it('gives up on a silent stream after the idle timeout (heartbeats keep it alive)', async () => {
    let beats = 0;
    handler = (_req, res) => {
      sse(res);
      // Twelve heartbeats 50 ms apart (far longer in all than the 400 ms timeout), then silence.
      const beat = setInterval(() => {
        res.write(': ping\n\n');
        if (++beats === 12) clearInterval(beat);
      }, 50);
      res.on('close', () => clearInterval(beat));
    };
    await assert.rejects(client.streamLogs('req-4', { idleTimeoutMs: 400 }, () => undefined), /sent nothing for 0\.4 s while streaming request req-4, not even a heartbeat/);
    assert.equal(beats, 12, 'the stream lived through every heartbeat and failed only once they stopped');
  });

  it('reports an error event from the server as an error', async () => {
    handler = (_req, res) => {
      sse(res);
      res.end('event: error\ndata: {"message":"store unavailable"}\n\n');
    };
    await assert.rejects(client.streamLogs('req-5', {}, () => undefined), /failed while streaming the log of request req-5: store unavailable/);
  });

  it('rejects with the abort reason when the caller aborts (detach), leaving the request alone', async () => {
    handler = (_req, res) => {
      sse(res);
      res.write('event: log\ndata: {"seq":1,"at":1,"text":"x"}\n\n');
    };
    const controller = new AbortController();
    const pending = client.streamLogs('req-6', { signal: controller.signal }, () => controller.abort());
    await assert.rejects(pending, (err: unknown) => err instanceof Error && err.name === 'AbortError');
  });

  it('maps an error answer before the stream starts (unknown request) to its SkyError', async () => {
    handler = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json', 'x-sky-api-version': '1' });
      res.end(JSON.stringify({ error: { code: 'REQUEST_NOT_FOUND', message: 'no request nope', hint: 'sky api status -a' } }));
    };
    await assert.rejects(client.streamLogs('nope', {}, () => undefined), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'REQUEST_NOT_FOUND');
      assert.equal(err.hint, 'sky api status -a');
      return true;
    });
  });

  it('streams server log lines until end', async () => {
    let url = '';
    handler = (req, res) => {
      url = req.url ?? '';
      sse(res);
      res.end('event: log\ndata: {"text":"line 1"}\n\nevent: log\ndata: {"text":"line 2"}\n\nevent: end\ndata: {}\n\n');
    };
    const lines: string[] = [];
    await client.serverLogs({ follow: false, tail: 2 }, (line) => lines.push(line));
    assert.deepEqual(lines, ['line 1', 'line 2']);
    assert.equal(url, '/api/v1/server/logs?follow=false&tail=2');
  });
});
