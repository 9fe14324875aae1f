import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SkyClient, parseEndpoint } from '@sky/client';
import { API_VERSION, SkyError, encodeClusterColumns, type ClusterRecord, type JobLogLine, type JobRecord } from '@sky/protocol';

/*
 * The SDK's cluster and job calls against a fake API server: which URL each call asks for,
 * how answers come back, and how a job log stream ends, fails or drops.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler;
const urls: string[] = [];
let server: Server;
let client: SkyClient;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-sky-api-version': String(API_VERSION) });
  res.end(JSON.stringify(body));
}

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-sky-api-version': String(API_VERSION) });
}

const CLUSTER: ClusterRecord = {
  name: 'dev',
  clusterId: 'c-1',
  owner: 'abcd1234',
  ownerName: 'tester',
  workspace: 'default',
  driver: 'local',
  infra: 'local',
  status: 'UP',
  numNodes: 2,
  nodes: [],
  resources: '2x local(cpus=1, mem=1GB)',
  driverState: {},
  launchedAt: 1,
  updatedAt: 1,
  lastActiveAt: 1,
  version: 1,
};

const JOB: JobRecord = {
  cluster: 'dev',
  clusterId: 'c-1',
  id: 3,
  user: 'abcd1234',
  userName: 'tester',
  status: 'RUNNING',
  submittedAt: 1,
  numNodes: 2,
  demand: { cpus: 1, memoryGb: 0, accelerators: [] },
};

before(async () => {
  server = createServer((req, res) => {
    urls.push(req.url ?? '');
    req.resume();
    req.on('end', () => handler(req, res));
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

describe('clusters and jobs', () => {
  it('listClusters asks for the caller view by default and passes -u and names', async () => {
    urls.length = 0;
    handler = (_req, res) => json(res, 200, { items: [CLUSTER], enabledInfra: ['local'] });
    const mine = await client.listClusters();
    assert.deepEqual(mine, { items: [CLUSTER], enabledInfra: ['local'] });
    await client.listClusters({ all_users: true, names: ['a', 'b.c'] });
    await client.listClusters({ names: [] });
    assert.deepEqual(urls, ['/api/v1/clusters', '/api/v1/clusters?all_users=true&names=a%2Cb.c', '/api/v1/clusters']);
  });

  it('listClusterSummaries asks for columns and gives back summaries; a daemon without them is asked for rows', async () => {
    urls.length = 0;
    const summaries = [
      { name: 'a', ownerName: 'tester', status: 'UP', launchedAt: 5, lastCommand: 'python train.py' },
      { name: 'b', ownerName: 'tester', status: 'INIT', statusReason: 'waiting', launchedAt: 6 },
    ];
    const columns = encodeClusterColumns(summaries, ['name', 'ownerName', 'status', 'statusReason', 'launchedAt', 'lastCommand'], (row, field) => row[field as keyof (typeof summaries)[number]]);
    handler = (_req, res) => json(res, 200, { count: 2, columns, enabledInfra: ['local'] });
    assert.deepEqual(await client.listClusterSummaries({ all_users: true, names: ['a', 'b'] }), { items: summaries, enabledInfra: ['local'] });
    assert.deepEqual(urls, ['/api/v1/clusters?all_users=true&names=a%2Cb&format=columns']);

    urls.length = 0;
    handler = (req, res) =>
      req.url?.includes('format=columns') === true
        ? json(res, 400, { error: { code: 'VALIDATION_FAILED', message: 'invalid query: format: unrecognized key' } })
        : json(res, 200, { items: summaries, enabledInfra: ['local'] });
    assert.deepEqual(await client.listClusterSummaries(), { items: summaries, enabledInfra: ['local'] });
    assert.deepEqual(urls, ['/api/v1/clusters?format=columns', '/api/v1/clusters?summary=true']);

    handler = (_req, res) => json(res, 403, { error: { code: 'FORBIDDEN', message: 'no' } });
    await assert.rejects(client.listClusterSummaries(), (err: unknown) => err instanceof SkyError && err.code === 'FORBIDDEN');
  });

  it('getCluster encodes the name into the path; a missing cluster is a SkyError with its code and hint', async () => {
    urls.length = 0;
    handler = (req, res) =>
      req.url === '/api/v1/clusters/dev'
        ? json(res, 200, CLUSTER)
        : json(res, 404, { error: { code: 'CLUSTER_NOT_FOUND', message: 'no cluster named x y', hint: 'See sky status' } });
    assert.equal((await client.getCluster('dev')).name, 'dev');
    await assert.rejects(client.getCluster('x y'), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'CLUSTER_NOT_FOUND');
      assert.equal(err.hint, 'See sky status');
      return true;
    });
    assert.deepEqual(urls, ['/api/v1/clusters/dev', '/api/v1/clusters/x%20y']);
  });

  it('listJobs passes all_users, skip_finished and the status filter', async () => {
    urls.length = 0;
    handler = (_req, res) => json(res, 200, { items: [JOB] });
    assert.deepEqual((await client.listJobs('dev')).items, [JOB]);
    await client.listJobs('dev', { all_users: true, skip_finished: true, status: ['PENDING', 'RUNNING'] });
    assert.deepEqual(urls, ['/api/v1/clusters/dev/jobs', '/api/v1/clusters/dev/jobs?all_users=true&skip_finished=true&status=PENDING%2CRUNNING']);
  });
});

describe('streamJobLogs', () => {
  it('delivers each line with its rank and resolves with the status of the end event', async () => {
    urls.length = 0;
    handler = (_req, res) => {
      sse(res);
      res.write(': heartbeat\n\n');
      res.write('event: log\ndata: {"rank":0,"text":"rank 0 of 2"}\n\n');
      res.write('event: log\ndata: {"rank":1,"text":"rank 1 of 2"}\n\n');
      res.end('event: end\ndata: {"status":"FAILED_SETUP"}\n\n');
    };
    const lines: JobLogLine[] = [];
    const status = await client.streamJobLogs('dev', 3, { tail: 10 }, (l) => lines.push(l));
    assert.equal(status, 'FAILED_SETUP');
    assert.deepEqual(lines, [
      { rank: 0, text: 'rank 0 of 2' },
      { rank: 1, text: 'rank 1 of 2' },
    ]);
    await client.streamJobLogs('dev', 3, { follow: false }, () => undefined);
    assert.deepEqual(urls, ['/api/v1/clusters/dev/jobs/3/logs?follow=true&tail=10', '/api/v1/clusters/dev/jobs/3/logs?follow=false']);
  });

  it('an error event becomes a SkyError saying how to retry', async () => {
    handler = (_req, res) => {
      sse(res);
      res.end('event: error\ndata: {"error":{"code":"NODE_UNREACHABLE","message":"node 1 is gone"}}\n\n');
    };
    await assert.rejects(client.streamJobLogs('dev', 3, {}, () => undefined), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.message, 'the API server failed while streaming the log of job 3 on cluster dev: node 1 is gone');
      assert.equal(err.hint, 'Retry with: sky logs dev 3');
      return true;
    });
  });

  it('a stream that drops before its end says the job keeps running and how to re-attach', async () => {
    handler = (_req, res) => {
      sse(res);
      res.write('event: log\ndata: {"rank":0,"text":"partial"}\n\n');
      setTimeout(() => res.destroy(), 20);
    };
    const lines: JobLogLine[] = [];
    await assert.rejects(client.streamJobLogs('dev', 7, {}, (l) => lines.push(l)), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'SERVER_UNREACHABLE');
      assert.match(err.message, /while streaming the log of job 7 on cluster dev; the job keeps running$/);
      assert.equal(err.hint, 'Re-attach with: sky logs dev 7');
      return true;
    });
    assert.equal(lines.length, 1);
  });

  it('a missing job is the daemon error, before any event', async () => {
    handler = (_req, res) => json(res, 404, { error: { code: 'JOB_NOT_FOUND', message: 'cluster dev has no job 9' } });
    await assert.rejects(client.streamJobLogs('dev', 9, {}, () => undefined), { code: 'JOB_NOT_FOUND', message: 'cluster dev has no job 9' });
  });

  it('heartbeats keep a quiet stream open past the inactivity timeout: it counts from the last byte', async () => {
    const timers: NodeJS.Timeout[] = [];
    handler = (_req, res) => {
      sse(res);
      res.write(': open\n\n');
      let beats = 0;
      const beat = setInterval(() => {
        beats += 1;
        // Twenty beats, 50 ms apart: far longer in all than the 400 ms timeout, never that long silent.
        if (beats < 20) res.write(': ping\n\n');
        else {
          clearInterval(beat);
          res.end('event: log\ndata: {"rank":0,"text":"done"}\n\nevent: end\ndata: {"status":"SUCCEEDED"}\n\n');
        }
      }, 50);
      timers.push(beat);
    };
    const lines: JobLogLine[] = [];
    assert.equal(await client.streamJobLogs('dev', 3, { idleTimeoutMs: 400 }, (l) => lines.push(l)), 'SUCCEEDED');
    assert.deepEqual(lines, [{ rank: 0, text: 'done' }]);
    timers.forEach(clearInterval);
  });

  it('a stream with no byte (no heartbeat) for the inactivity timeout fails with a clear SERVER_UNREACHABLE', async () => {
    let open: ServerResponse | undefined;
    handler = (_req, res) => {
      sse(res);
      res.write(': open\n\nevent: log\ndata: {"rank":0,"text":"then silence"}\n\n');
      open = res;
    };
    const lines: JobLogLine[] = [];
    await assert.rejects(client.streamJobLogs('dev', 5, { idleTimeoutMs: 200 }, (l) => lines.push(l)), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'SERVER_UNREACHABLE');
      assert.match(err.message, /^the API server at http:\/\/127\.0\.0\.1:\d+ sent nothing for 0\.2 s while streaming the log of job 5 on cluster dev, not even a heartbeat: it is stuck or the connection is dead$/);
      assert.equal(err.hint, 'Check it with: sky api info; then re-attach with: sky logs dev 5');
      return true;
    });
    assert.deepEqual(lines, [{ rank: 0, text: 'then silence' }]);
    open?.destroy();
    // The same for a request's log.
    handler = (_req, res) => {
      sse(res);
      res.write(': open\n\n');
      open = res;
    };
    await assert.rejects(client.streamLogs('r-1', { idleTimeoutMs: 200 }, () => undefined), /sent nothing for 0\.2 s while streaming request r-1/);
    open?.destroy();
  });

  it('aborting the signal mid-stream (Ctrl-C) rejects with its reason', async () => {
    handler = (_req, res) => {
      sse(res);
      res.write('event: log\ndata: {"rank":0,"text":"still running"}\n\n');
    };
    const controller = new AbortController();
    const streaming = client.streamJobLogs('dev', 3, { signal: controller.signal }, () => controller.abort(new Error('detached')));
    await assert.rejects(streaming, /detached/);
  });
});
