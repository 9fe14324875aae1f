import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SkyClient, SkyError, parseEndpoint, type JobStatus } from '@sky/client';
import { createSkyActivities, type ActivityContext, type SkyActivities } from '../../examples/temporal/src/index.js';
import { REPO_ROOT, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';

/*
 * The Temporal activities of examples/temporal, called as a Temporal worker would call them but
 * with a recording context instead of Temporal's, against a real daemon on the local driver:
 * launch, exec, wait (heartbeating), a wait cancelled through the context's signal (the job is
 * cancelled on the daemon), managed jobs, down. Then the SDK as an outside project gets it: the
 * packed @sky/protocol and @sky/client installed offline into an empty directory, talking to
 * the same daemon.
 */

const run = promisify(execFile);

/** What Temporal's Context gives an activity: heartbeats are recorded, cancellation is ours to fire. */
class RecordingContext implements ActivityContext {
  readonly heartbeats: unknown[] = [];
  private readonly controller = new AbortController();
  constructor(private readonly onBeat?: (details: unknown, ctx: RecordingContext) => void) {}
  get cancellationSignal(): AbortSignal {
    return this.controller.signal;
  }
  heartbeat(details?: unknown): void {
    this.heartbeats.push(details);
    this.onBeat?.(details, this);
  }
  cancel(reason: unknown): void {
    this.controller.abort(reason);
  }
}

const statusOf = (details: unknown): string | undefined => (details as { status?: string } | undefined)?.status;

let d: DaemonHandle;
let home: string;
let client: SkyClient;
let ctx: RecordingContext;
let sky: SkyActivities;
const CLUSTER = 'temporal-a';

before(async () => {
  home = tempHome();
  const config =
    `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 16\n    memory_gb: 32\n` +
    `jobs:\n  reconcile_seconds: 1\n` +
    `managed_jobs:\n  retry_seconds: 1\n`;
  d = await startDaemon({ home, config });
  client = new SkyClient({ endpoint: await parseEndpoint(d.url, 'test'), identity: { id: 'u-flow', name: 'flow' }, home: d.home });
  // Each activity reads the context of its call, as Context.current() would give it.
  sky = createSkyActivities({ client, context: () => ctx, requestPollSeconds: 1, jobPollSeconds: 0.2 });
});

after(async () => {
  client?.close();
  await d?.stop();
  await killAllDaemons();
  if (home) removeHome(home);
});

describe('Temporal activities against a real daemon', () => {
  it('launchCluster: the cluster is UP, and the wait for its request heartbeated', async () => {
    ctx = new RecordingContext();
    const result = await sky.launchCluster({ cluster: CLUSTER, task: { resources: { cpus: 1 } }, idempotencyKey: 'wf-1/launch' });
    assert.equal(result.cluster, CLUSTER);
    assert.equal(result.plan.driver, 'local');
    assert.ok(ctx.heartbeats.length >= 1);
    assert.equal(statusOf(ctx.heartbeats.at(-1)), 'SUCCEEDED');
    assert.equal((await client.getCluster(CLUSTER)).status, 'UP');
  });

  it('a retry with the same idempotency key is answered with the first launch', async () => {
    ctx = new RecordingContext();
    const again = await sky.launchCluster({ cluster: CLUSTER, task: { resources: { cpus: 1 } }, idempotencyKey: 'wf-1/launch' });
    assert.equal(again.plan.existing, false, 'the first launch created the cluster, and its result is what a retry gets');
  });

  it('execJob then waitForJob: heartbeats follow the job to SUCCEEDED', async () => {
    ctx = new RecordingContext();
    const { jobId } = await sky.execJob({ cluster: CLUSTER, task: { run: 'echo from-temporal; sleep 2' } });
    ctx = new RecordingContext();
    const outcome = await sky.waitForJob({ cluster: CLUSTER, jobId });
    assert.equal(outcome.status, 'SUCCEEDED');
    assert.deepEqual(outcome.exitCodes, [0]);
    const seen = ctx.heartbeats.map(statusOf);
    assert.ok(seen.length >= 2, `heartbeats: ${JSON.stringify(seen)}`);
    assert.ok(seen.slice(0, -1).every((s) => s === 'PENDING' || s === 'SETTING_UP' || s === 'RUNNING'), JSON.stringify(seen));
    assert.equal(seen.at(-1), 'SUCCEEDED');
  });

  it('a wait cancelled through the signal cancels the job: it ends CANCELLED on the daemon', async () => {
    ctx = new RecordingContext();
    const { jobId } = await sky.execJob({ cluster: CLUSTER, task: { run: 'sleep 600' } });
    const reason = new Error('workflow cancelled');
    ctx = new RecordingContext((details, self) => {
      if (statusOf(details) === 'RUNNING') self.cancel(reason);
    });
    await assert.rejects(sky.waitForJob({ cluster: CLUSTER, jobId }), (err) => err === reason);
    const job = (await client.listJobs(CLUSTER)).items.find((j) => j.id === jobId);
    assert.equal(job?.status satisfies JobStatus | undefined, 'CANCELLED');
  });

  it('a request whose operation fails rejects with its stable code', async () => {
    ctx = new RecordingContext();
    await assert.rejects(sky.execJob({ cluster: 'temporal-none', task: { run: 'true' } }), (err) => err instanceof SkyError && err.code === 'CLUSTER_NOT_FOUND');
  });

  it('client.run cancels its request on the API server when the caller aborts', async () => {
    const controller = new AbortController();
    let requestId: string | undefined;
    const running = client.run('ping', { sleep: 5 }, {
      signal: controller.signal,
      pollSeconds: 1,
      onPoll: (record) => {
        requestId = record.id;
        if (record.status === 'RUNNING') controller.abort(new Error('caller gave up'));
      },
    });
    await assert.rejects(running, /caller gave up/);
    assert.ok(requestId);
    assert.equal((await client.wait(requestId, 30)).status, 'CANCELLED');
  });

  it('launchManagedJob then waitManagedJob: SUCCEEDED, heartbeating', async () => {
    ctx = new RecordingContext();
    const { jobId } = await sky.launchManagedJob({ tasks: [{ run: 'echo managed' }], name: 'temporal-managed', idempotencyKey: 'wf-2/launch' });
    ctx = new RecordingContext();
    const outcome = await sky.waitManagedJob({ jobId });
    assert.equal(outcome.status, 'SUCCEEDED', outcome.reason);
    assert.equal(statusOf(ctx.heartbeats.at(-1)), 'SUCCEEDED');
  });

  it('downCluster: the cluster is gone', async () => {
    ctx = new RecordingContext();
    const result = await sky.downCluster({ cluster: CLUSTER });
    assert.equal(result.cluster, CLUSTER);
    await assert.rejects(client.getCluster(CLUSTER), (err) => err instanceof SkyError && err.code === 'CLUSTER_NOT_FOUND');
  });
});

describe('@sky/client as an outside project installs it', () => {
  let work: string;

  before(() => {
    for (const dir of ['core/protocol', 'core/client']) assert.ok(existsSync(join(REPO_ROOT, dir, 'dist/index.js')), `${dir}/dist is missing: run npm run build`);
    work = mkdtempSync(join(tmpdir(), 'sky-sdk-tarball-'));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packed with npm pack, installed offline into an empty project, it pings the daemon', async () => {
    const packs = join(work, 'packs');
    mkdirSync(packs);
    const dirs = [
      'core/protocol',
      'core/client',
      // The protocol's and the client's own dependencies, packed from this checkout: no registry needed.
      'node_modules/zod',
      'node_modules/yaml',
      'core/protocol/node_modules/ignore',
    ].map((dir) => join(REPO_ROOT, dir));
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packs, ...dirs], { cwd: packs });
    const tarballs = readdirSync(packs).filter((f) => f.endsWith('.tgz')).map((f) => join(packs, f));
    assert.equal(tarballs.length, 5, tarballs.join(', '));

    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'sdk-user', version: '1.0.0', private: true, type: 'module' }));
    const npmEnv = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
    await run('npm', ['install', '--ignore-scripts', ...tarballs], { cwd: project, env: npmEnv });
    const installed = join(project, 'node_modules/@sky/client');
    assert.ok(existsSync(join(installed, 'dist/index.d.ts')), 'types ship in the tarball');
    assert.ok(!existsSync(join(installed, 'src')), 'sources stay out of the tarball');

    writeFileSync(
      join(project, 'ping.mjs'),
      [
        "import { SkyClient } from '@sky/client';",
        'const client = await SkyClient.fromEnvironment();',
        "const result = await client.run('ping', {});",
        'const me = await client.whoami();',
        'client.close();',
        'console.log(JSON.stringify({ result, user: me.name }));',
      ].join('\n'),
    );
    // Endpoint as the CLI resolves it ($SKYPILOT_API_SERVER_ENDPOINT), the daemon owner's local token from HOME.
    const env = { PATH: process.env.PATH ?? '', HOME: d.home, SKYPILOT_API_SERVER_ENDPOINT: d.url };
    const { stdout } = await run(process.execPath, ['ping.mjs'], { cwd: project, env });
    const answer = JSON.parse(stdout) as { result: { pong: boolean; daemonPid: number }; user: string };
    assert.equal(answer.result.pong, true);
    assert.equal(answer.result.daemonPid, d.pid);
    assert.equal(typeof answer.user, 'string');
  });
});
