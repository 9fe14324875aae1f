import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SkyClient, parseEndpoint } from '@sky/client';
import { API_VERSION, SkyError, type ServiceLogLine, type ServiceRecord } from '@sky/protocol';

/*
 * The SDK's service calls against a fake API server: the URL each call asks for, the log stream
 * of a replica, the controller or the load balancer to its end or its loss, and the uploads of
 * the task before serve_up.
 */

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler;
const calls: Array<{ method: string; url: string; body: string }> = [];
let server: Server;
let client: SkyClient;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-sky-api-version': String(API_VERSION) });
  res.end(JSON.stringify(body));
}

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-sky-api-version': String(API_VERSION) });
}

const SERVICE: ServiceRecord = {
  name: 'llm',
  user: 'abcd1234',
  userName: 'tester',
  workspace: 'default',
  status: 'READY',
  version: 1,
  activeVersion: 1,
  updateMode: 'rolling',
  endpoint: 'http://127.0.0.1:30001',
  protected: false,
  replicaPolicy: { minReplicas: 1, maxReplicas: 1, upscaleDelaySeconds: 300, downscaleDelaySeconds: 1200 },
  targetReplicas: 1,
  replicas: [{ id: 1, version: 1, status: 'READY', cluster: 'llm-1', launchedAt: 1, failedProbes: 0 }],
  nextReplicaId: 2,
  createdAt: 1,
  updatedAt: 2,
  requestId: 'r-1',
  revision: 3,
};

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      calls.push({ method: req.method ?? '', url: req.url ?? '', body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new SkyClient({ endpoint: await parseEndpoint(`http://127.0.0.1:${port}`, 'test'), identity: { id: 'abcd1234', name: 'tester' } });
});

after(async () => {
  client.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('services in the SDK', () => {
  it('listServices asks for the caller view by default and passes -u', async () => {
    calls.length = 0;
    handler = (_req, res) => json(res, 200, { items: [SERVICE] });
    assert.deepEqual((await client.listServices()).items, [SERVICE]);
    await client.listServices({ all_users: true });
    assert.deepEqual(
      calls.map((c) => c.url),
      ['/api/v1/services', '/api/v1/services?all_users=true'],
    );
  });

  it('getService reads one service with its events; a missing one is SERVICE_NOT_FOUND', async () => {
    calls.length = 0;
    handler = (_req, res) => json(res, 200, { service: SERVICE, events: [{ at: 2, text: 'replica 1 is READY' }] });
    assert.equal((await client.getService('llm')).events[0]!.text, 'replica 1 is READY');
    assert.equal(calls[0]!.url, '/api/v1/services/llm');
    handler = (_req, res) => json(res, 404, { error: { code: 'SERVICE_NOT_FOUND', message: 'no service nope' } });
    await assert.rejects(client.getService('nope'), (err: unknown) => err instanceof SkyError && err.code === 'SERVICE_NOT_FOUND');
  });

  it('streamServiceLogs hands over each line and resolves with the status the stream ended on', async () => {
    calls.length = 0;
    handler = (_req, res) => {
      sse(res);
      res.write(': heartbeat\n\n');
      res.write('event: log\ndata: {"rank":1,"text":"worker says hi"}\n\n');
      res.write('event: log\ndata: {"text":"plain line"}\n\n');
      res.end('event: end\ndata: {"status":"FAILED"}\n\n');
    };
    const lines: ServiceLogLine[] = [];
    assert.equal(await client.streamServiceLogs('llm', { replicaId: 2 }, (l) => lines.push(l)), 'FAILED');
    assert.deepEqual(lines, [{ rank: 1, text: 'worker says hi' }, { text: 'plain line' }]);
    await client.streamServiceLogs('llm', { follow: false, controller: true }, () => undefined);
    await client.streamServiceLogs('llm', { loadBalancer: true }, () => undefined);
    assert.deepEqual(
      calls.map((c) => c.url),
      ['/api/v1/services/llm/logs?follow=true&replica_id=2', '/api/v1/services/llm/logs?follow=false&controller=true', '/api/v1/services/llm/logs?follow=true&load_balancer=true'],
    );
  });

  it('a stream that drops before its end is SERVER_UNREACHABLE, saying how to re-attach', async () => {
    handler = (_req, res) => {
      sse(res);
      res.end('event: log\ndata: {"text":"partial"}\n\n');
    };
    await assert.rejects(client.streamServiceLogs('llm', { controller: true }, () => undefined), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'SERVER_UNREACHABLE');
      assert.equal(err.hint, 'Re-attach with: sky serve logs llm --controller');
      return true;
    });
  });

  it('serve_up uploads the local workdir of the task and names the upload in the body', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sky-serve-'));
    try {
      await writeFile(join(dir, 'server.py'), 'print(1)\n');
      const uploaded: string[] = [];
      const own = new SkyClient({ endpoint: client.endpoint, identity: client.identity });
      const local = own as unknown as { serverPaths: () => Promise<boolean>; upload: (path: string) => Promise<{ id: string }> };
      local.serverPaths = async () => false;
      local.upload = async (path: string) => {
        uploaded.push(path);
        return { id: 'up-1' };
      };
      calls.length = 0;
      handler = (_req, res) => json(res, 202, { requestId: 'r-9', status: 'PENDING', created: true });
      await own.submit('serve_up', { task: { run: 'python server.py', workdir: dir }, service_name: 'llm' });
      assert.deepEqual(uploaded, [dir]);
      assert.equal(calls[0]!.url, '/api/v1/serve_up');
      assert.deepEqual(JSON.parse(calls[0]!.body), { task: { run: 'python server.py', workdir: dir }, service_name: 'llm', uploads: { workdir: 'up-1' } });
      own.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
