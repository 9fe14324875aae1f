import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SkyClient, parseEndpoint, type ManagedJobLogLine } from '@sky/client';
import { API_VERSION, SkyError, type ManagedJobRecord } from '@sky/protocol';

/*
 * The SDK's managed job calls against a fake API server: the URL each call asks for, the log
 * stream to its end or its loss, and the uploads of a pipeline's tasks before jobs_launch.
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

const JOB: ManagedJobRecord = {
  id: 4,
  user: 'abcd1234',
  userName: 'tester',
  workspace: 'default',
  requestId: 'r-4',
  status: 'RUNNING',
  submittedAt: 1,
  currentTask: 0,
  attempts: 1,
  tasks: [{ index: 0, resources: '1x local(cpus=1)', status: 'RUNNING', runningMs: 0, recoveries: 0, restarts: 0 }],
  version: 3,
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

describe('managed jobs in the SDK', () => {
  it('listManagedJobs asks for the caller view by default and passes -u, -s and a limit', async () => {
    calls.length = 0;
    handler = (_req, res) => json(res, 200, { items: [JOB] });
    assert.deepEqual((await client.listManagedJobs()).items, [JOB]);
    await client.listManagedJobs({ all_users: true, skip_finished: true, limit: 1 });
    assert.deepEqual(
      calls.map((c) => c.url),
      ['/api/v1/managed-jobs', '/api/v1/managed-jobs?all_users=true&skip_finished=true&limit=1'],
    );
  });

  it('getManagedJob reads one job; a missing one is MANAGED_JOB_NOT_FOUND', async () => {
    calls.length = 0;
    handler = (_req, res) => json(res, 200, { job: JOB, events: [{ at: 2, text: 'launching task 0' }] });
    assert.equal((await client.getManagedJob(4)).events[0]!.text, 'launching task 0');
    assert.equal(calls[0]!.url, '/api/v1/managed-jobs/4');
    handler = (_req, res) => json(res, 404, { error: { code: 'MANAGED_JOB_NOT_FOUND', message: 'no managed job 9' } });
    await assert.rejects(client.getManagedJob(9), (err: unknown) => err instanceof SkyError && err.code === 'MANAGED_JOB_NOT_FOUND');
  });

  it('streamManagedJobLogs hands over each line and resolves with the final status; --controller asks for the controller log', async () => {
    calls.length = 0;
    handler = (_req, res) => {
      sse(res);
      res.write(': heartbeat\n\n');
      res.write('event: log\ndata: {"rank":0,"text":"task 0 says hi"}\n\n');
      res.write('event: log\ndata: {"text":"controller line"}\n\n');
      res.end('event: end\ndata: {"status":"CANCELLED"}\n\n');
    };
    const lines: ManagedJobLogLine[] = [];
    assert.equal(await client.streamManagedJobLogs(4, {}, (l) => lines.push(l)), 'CANCELLED');
    assert.deepEqual(lines, [
      { rank: 0, text: 'task 0 says hi' },
      { rank: 0, text: 'controller line' },
    ]);
    await client.streamManagedJobLogs(4, { follow: false, controller: true }, () => undefined);
    assert.deepEqual(
      calls.map((c) => c.url),
      ['/api/v1/managed-jobs/4/logs?follow=true', '/api/v1/managed-jobs/4/logs?follow=false&controller=true'],
    );
  });

  it('a stream that drops before its end is SERVER_UNREACHABLE, saying how to re-attach', async () => {
    handler = (_req, res) => {
      sse(res);
      res.end('event: log\ndata: {"rank":0,"text":"partial"}\n\n');
    };
    await assert.rejects(client.streamManagedJobLogs(4, {}, () => undefined), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'SERVER_UNREACHABLE');
      assert.equal(err.hint, 'Re-attach with: sky jobs logs 4');
      return true;
    });
  });

  it('jobs_launch uploads the local workdir of each task and names the upload in that task', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sky-mj-'));
    try {
      await writeFile(join(dir, 'train.py'), 'print(1)\n');
      const uploaded: Array<{ path: string; field: string }> = [];
      let n = 0;
      // Its own client: where uploads go is replaced by a record of them (the upload protocol has its own tests).
      const own = new SkyClient({ endpoint: client.endpoint, identity: client.identity });
      const local = own as unknown as { serverPaths: () => Promise<boolean>; upload: (path: string) => Promise<{ id: string }> };
      local.serverPaths = async () => false;
      local.upload = async (path: string) => {
        uploaded.push({ path, field: 'workdir' });
        return { id: `up-${++n}` };
      };
      const body = await own.withPipelineUploads({
        tasks: [{ task: { run: 'echo a' } }, { task: { run: 'python train.py', workdir: dir } }],
        name: 'pipe',
      });
      assert.deepEqual(body, { tasks: [{ task: { run: 'echo a' } }, { task: { run: 'python train.py', workdir: dir }, uploads: { workdir: 'up-1' } }], name: 'pipe' });
      assert.deepEqual(uploaded, [{ path: dir, field: 'workdir' }]);
      own.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
