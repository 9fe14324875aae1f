import { strict as assert } from 'node:assert';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SkyClient, isConnectionRefused, parseEndpoint } from '@sky/client';
import { API_VERSION, SkyError, type RequestRecord } from '@sky/protocol';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler;
const seen: Seen[] = [];
let server: Server;
let port: number;
let client: SkyClient;

function json(res: ServerResponse, status: number, body: unknown, version = String(API_VERSION)): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-sky-api-version': version });
  res.end(JSON.stringify(body));
}

async function skyRejection(promise: Promise<unknown>): Promise<SkyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

function record(id: string, status: RequestRecord['status']): RequestRecord {
  return { id, name: 'ping', user: 'abcd1234', userName: 'tester', workspace: 'default', lane: 'short', status, createdAt: 1, body: {}, attempts: 1 };
}

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  client = new SkyClient({
    endpoint: await parseEndpoint(`http://alice:pa55word@127.0.0.1:${port}`, 'test'),
    identity: { id: 'abcd1234', name: 'tester' },
  });
});

after(async () => {
  client.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('requests the client sends', () => {
  it('carry the API version, the identity and the URL credentials as basic auth', async () => {
    seen.length = 0;
    handler = (_req, res) => json(res, 200, { status: 'healthy' });
    await client.health();
    const { headers, url } = seen[0] ?? assert.fail('no request');
    assert.equal(url, '/api/health');
    assert.equal(headers['x-sky-api-version'], String(API_VERSION));
    assert.equal(headers['x-sky-user-name'], 'tester');
    assert.equal(headers['x-sky-user-id'], 'abcd1234');
    assert.equal(headers.authorization, `Basic ${Buffer.from('alice:pa55word').toString('base64')}`);
  });

  it('submit posts the JSON body to /api/v1/<op> with the idempotency key', async () => {
    seen.length = 0;
    handler = (_req, res) => json(res, 202, { requestId: 'r1', status: 'PENDING', created: true });
    const answer = await client.submit('ping', { sleep: 1, lane: 'long' }, { idempotencyKey: 'key-1' });
    assert.deepEqual(answer, { requestId: 'r1', status: 'PENDING', created: true });
    const req = seen[0] ?? assert.fail('no request');
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/api/v1/ping');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['idempotency-key'], 'key-1');
    assert.deepEqual(JSON.parse(req.body), { sleep: 1, lane: 'long' });
  });

  it('list turns the query into the route query string; cancel posts its body', async () => {
    seen.length = 0;
    handler = (req, res) => (req.method === 'GET' ? json(res, 200, { items: [] }) : json(res, 200, { cancelled: ['a'], alreadyFinished: [] }));
    await client.list({ all_users: true, status: ['PENDING', 'RUNNING'], limit: 5, cursor: 'c1' });
    const listed = new URL(seen[0]?.url ?? '', 'http://x');
    assert.equal(listed.pathname, '/api/v1/requests');
    assert.deepEqual(Object.fromEntries(listed.searchParams), { all_users: 'true', status: 'PENDING,RUNNING', limit: '5', cursor: 'c1' });
    assert.deepEqual(await client.cancel({ ids: ['a'] }), { cancelled: ['a'], alreadyFinished: [] });
    assert.equal(seen[1]?.url, '/api/v1/requests/cancel');
    assert.deepEqual(JSON.parse(seen[1]?.body ?? ''), { ids: ['a'] });
  });

  it('waitUntilDone long-polls until the request is finished', async () => {
    seen.length = 0;
    let polls = 0;
    handler = (_req, res) => {
      polls += 1;
      json(res, 200, record('r9', polls < 3 ? 'RUNNING' : 'SUCCEEDED'));
    };
    const done = await client.waitUntilDone('r9', { pollSeconds: 7 });
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(polls, 3);
    assert.ok(seen.every((s) => s.url === '/api/v1/requests/r9/wait?timeout=7'), JSON.stringify(seen.map((s) => s.url)));
  });

  it('escapes request ids in paths', async () => {
    seen.length = 0;
    handler = (_req, res) => json(res, 200, record('a/b', 'RUNNING'));
    await client.get('a/b');
    assert.equal(seen[0]?.url, '/api/v1/requests/a%2Fb');
  });
});

describe('answers the client maps to errors', () => {
  it('an error body becomes the SkyError it describes', async () => {
    handler = (_req, res) =>
      json(res, 400, { error: { code: 'VALIDATION_FAILED', message: 'invalid body: sleep: too big', hint: 'use less', details: { field: 'sleep' } } });
    const err = await skyRejection(client.submit('ping', { sleep: 1 }));
    assert.equal(err.code, 'VALIDATION_FAILED');
    assert.equal(err.message, 'invalid body: sleep: too big');
    assert.equal(err.hint, 'use less');
    assert.deepEqual(err.details, { field: 'sleep' });
  });

  it('an unknown error code is kept as INTERNAL with its message', async () => {
    handler = (_req, res) => json(res, 500, { error: { code: 'SOMETHING_NEW', message: 'newer daemon' } });
    const err = await skyRejection(client.get('x'));
    assert.equal(err.code, 'INTERNAL');
    assert.equal(err.message, 'newer daemon');
  });

  it('a non-JSON error page says which call got which HTTP status', async () => {
    handler = (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    };
    const err = await skyRejection(client.get('x'));
    assert.equal(err.code, 'INTERNAL');
    assert.match(err.message, /answered GET \/api\/v1\/requests\/x with HTTP 502/);
    assert.ok(!err.message.includes('pa55word'));
  });

  it('invalid JSON in a 200 answer is an error, not a crash', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'x-sky-api-version': '1' });
      res.end('{not json');
    };
    assert.match((await skyRejection(client.health())).message, /invalid JSON/);
  });

  it('a newer API server tells the user to upgrade this client', async () => {
    handler = (_req, res) => json(res, 200, {}, String(API_VERSION + 1));
    const err = await skyRejection(client.health());
    assert.equal(err.code, 'VERSION_MISMATCH');
    assert.match(err.message, /upgrade this client$/);
  });

  it('an older API server tells the user to upgrade the API server', async () => {
    handler = (_req, res) => json(res, 200, {}, String(API_VERSION - 1));
    const err = await skyRejection(client.list());
    assert.equal(err.code, 'VERSION_MISMATCH');
    assert.match(err.message, /upgrade the API server$/);
  });
});

describe('an API server that cannot be reached', () => {
  it('is SERVER_UNREACHABLE naming the endpoint without its credentials, and marked as refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = new SkyClient({ endpoint: await parseEndpoint(`http://bob:hunter22@127.0.0.1:${freePort}`, 'test'), identity: { id: 'x', name: 'y' } });
    const err = await skyRejection(down.health());
    assert.equal(err.code, 'SERVER_UNREACHABLE');
    // Not the default endpoint: nothing starts it by itself, and the message says nothing is there.
    assert.equal(err.message, `no API server at http://127.0.0.1:${freePort} (connection refused)`);
    assert.match(err.hint ?? '', new RegExp(`SSH tunnel or port-forward.*sky api start --port ${freePort}\\. Only http://127\\.0\\.0\\.1:46580 is started automatically\\.$`));
    assert.equal(isConnectionRefused(err), true);
    assert.ok(!JSON.stringify({ m: err.message, h: err.hint, d: err.details }).includes('hunter22'));
  });

  it('a remote endpoint fails fast with a hint that it is never started automatically', async () => {
    // .invalid never resolves (RFC 6761), so no packet leaves for a remote host.
    const remote = new SkyClient({
      endpoint: await parseEndpoint('http://carol:pw123456@sky-remote.invalid:46580', '$SKYPILOT_API_SERVER_ENDPOINT'),
      identity: { id: 'x', name: 'y' },
      connectTimeoutMs: 2_000,
    });
    const started = Date.now();
    const err = await skyRejection(remote.health());
    assert.ok(Date.now() - started < 5_000);
    assert.equal(err.code, 'SERVER_UNREACHABLE');
    assert.match(err.message, /^cannot reach API server at http:\/\/sky-remote\.invalid:46580 \(/);
    assert.match(err.hint ?? '', /never started automatically/);
    assert.equal(isConnectionRefused(err), false);
    assert.ok(!err.message.includes('pw123456'));
  });
});
