import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { ClusterRecord, JobRecord } from '@sky/protocol';
import { autostopText, elapsed, jobResources, queueTable, statusHeaders, statusTable, truncate } from '../../cli/src/cluster-format.js';
import { ask, confirmation, confirmOrAbort, isYes } from '../../cli/src/confirm.js';
import { formatJobLine, rankLabels, statusExitCode } from '../../cli/src/job-log.js';
import { endReason, jobHints } from '../../cli/src/jobs.js';
import { planLines } from '../../cli/src/commands/launch.js';
import { autostopBody, selectForAll, successLines, wording } from '../../cli/src/commands/lifecycle.js';
import { statusLines } from '../../cli/src/commands/status.js';
import { UsageError } from '../../cli/src/usage.js';

const NOW = 1_700_000_000_000;
const MIN = 60_000;

function cluster(name: string, over: Partial<ClusterRecord> = {}): ClusterRecord {
  return {
    name,
    clusterId: `${name}-1`,
    owner: 'u1',
    ownerName: 'alice',
    workspace: 'default',
    driver: 'local',
    infra: 'local',
    status: 'UP',
    numNodes: 1,
    nodes: [],
    resources: '1x local(cpus=1, mem=1GB)',
    driverState: {},
    launchedAt: NOW - 5 * MIN,
    updatedAt: NOW,
    lastActiveAt: NOW,
    version: 1,
    ...over,
  };
}

function job(id: number, over: Partial<JobRecord> = {}): JobRecord {
  return {
    cluster: 'dev',
    clusterId: 'dev-1',
    id,
    user: 'u1',
    userName: 'alice',
    status: 'SUCCEEDED',
    submittedAt: NOW - 3 * MIN,
    numNodes: 1,
    demand: { cpus: 1, memoryGb: 0, accelerators: [] },
    ...over,
  };
}

describe('sky status table', () => {
  it('has the seed header with -u and SkyPilot’s columns without it', () => {
    assert.equal(statusTable([], { showUser: true, now: NOW })[0], 'NAME  USER  LAUNCHED  RESOURCES  STATUS  AUTOSTOP  COMMAND');
    assert.equal(statusTable([], { showUser: false, now: NOW })[0], 'NAME  LAUNCHED  RESOURCES  STATUS  AUTOSTOP  COMMAND');
    assert.deepEqual(statusHeaders(true), ['NAME', 'USER', 'LAUNCHED', 'RESOURCES', 'STATUS', 'AUTOSTOP', 'COMMAND']);
  });

  it('lists clusters newest first, with owner, age, autostop and the truncated last command', () => {
    const lines = statusTable(
      [
        cluster('old', { launchedAt: NOW - 3 * 3_600_000, status: 'STOPPED', lastCommand: 'sky launch -c old examples/two-node.yaml' }),
        cluster('new', { ownerName: 'bob', autostop: { idleMinutes: 10, down: true }, lastCommand: 'sky exec new echo hi' }),
        cluster('init', { launchedAt: NOW - 1000, status: 'INIT', statusReason: 'provisioning 2 nodes' }),
      ],
      { showUser: true, now: NOW },
    );
    assert.deepEqual(lines, [
      'NAME  USER   LAUNCHED  RESOURCES                  STATUS                       AUTOSTOP    COMMAND',
      'init  alice  1s ago    1x local(cpus=1, mem=1GB)  INIT (provisioning 2 nodes)  -           -',
      'new   bob    5m ago    1x local(cpus=1, mem=1GB)  UP                           10m (down)  sky exec new echo hi',
      'old   alice  3h ago    1x local(cpus=1, mem=1GB)  STOPPED                      -           sky launch -c old...',
    ]);
  });

  it('prints the enabled infra and a Clusters heading, and says what was not found', () => {
    const list = { items: [cluster('dev', { autostop: { idleMinutes: 5, down: false } })], enabledInfra: ['local', 'ssh/pool-a'] };
    assert.deepEqual(statusLines(list, ['dev', 'gone'], {}, NOW), [
      'Enabled Infra: local, ssh/pool-a',
      '',
      'Clusters',
      'NAME  LAUNCHED  RESOURCES                  STATUS  AUTOSTOP  COMMAND',
      'dev   5m ago    1x local(cpus=1, mem=1GB)  UP      5m        -',
      '',
      'Cluster(s) not found: gone.',
      '',
      '* 1 cluster has auto{stop,down} scheduled. Refresh statuses with: sky status --refresh',
    ]);
    assert.deepEqual(statusLines({ items: [], enabledInfra: ['local'] }, [], { allUsers: true }, NOW), ['Enabled Infra: local', '', 'Clusters', 'No existing clusters.']);
  });

  it('AUTOSTOP and COMMAND read as in SkyPilot', () => {
    assert.equal(autostopText(undefined), '-');
    assert.equal(autostopText({ idleMinutes: 30, down: false }), '30m');
    assert.equal(autostopText({ idleMinutes: 0, down: true }), '0m (down)');
    assert.equal(truncate('short', 25), 'short');
    assert.equal(truncate('python train.py --epochs 10 --lr 0.1', 25), 'python train.py --epochs...');
    assert.equal(truncate('averyveryveryverylongsinglewordcommand', 10), 'averyveryv...');
    assert.equal(truncate('line one\n  line two', 25), 'line one line two');
  });
});

describe('sky queue table', () => {
  it('has SkyPilot’s columns and one row per job, newest first', () => {
    const lines = queueTable(
      'dev',
      [
        job(1, { name: 'train', startedAt: NOW - 2 * MIN, endedAt: NOW - MIN + 5000 }),
        job(2, { status: 'RUNNING', userName: 'bob', numNodes: 2, startedAt: NOW - 30_000, demand: { cpus: 0.5, memoryGb: 1, accelerators: [] } }),
        job(3, { status: 'PENDING', demand: { cpus: 1, memoryGb: 0, accelerators: [{ name: 'H100', count: 8 }] } }),
      ],
      NOW,
    );
    assert.deepEqual(lines, [
      'ID  NAME   USER   SUBMITTED  STARTED  DURATION  RESOURCES    STATUS     LOG',
      '3   -      alice  3m ago     -        -         1x[H100:8]   PENDING    sky logs dev 3',
      '2   -      bob    3m ago     30s ago  30s       2x[CPU:0.5]  RUNNING    sky logs dev 2',
      '1   train  alice  3m ago     2m ago   1m 5s     1x[CPU:1]    SUCCEEDED  sky logs dev 1',
    ]);
  });

  it('durations and resources are compact', () => {
    assert.equal(elapsed(0), '0s');
    assert.equal(elapsed(59_999), '59s');
    assert.equal(elapsed(3_599_000), '59m 59s');
    assert.equal(elapsed(2 * 3_600_000 + 3 * MIN), '2h 3m');
    assert.equal(elapsed(50 * 3_600_000), '2d 2h');
    assert.equal(jobResources({ numNodes: 1, demand: { cpus: 1, memoryGb: 0, accelerators: [{ name: 'A100', count: 0.5 }, { name: 'V100', count: 1 }] } }), '1x[A100:0.5, V100:1]');
  });
});

describe('job logs', () => {
  it('prefixes each rank of a multi-node job as SkyPilot does, with the node address', () => {
    const labels = rankLabels(3, [
      { rank: 0, address: '10.0.0.1' },
      { rank: 1, address: '10.0.0.2' },
    ]);
    assert.deepEqual(labels, ['(head, rank=0, ip=10.0.0.1)', '(worker1, rank=1, ip=10.0.0.2)', '(worker2, rank=2)']);
    assert.equal(formatJobLine({ rank: 1, text: 'hello' }, labels), '(worker1, rank=1, ip=10.0.0.2) hello\n');
    assert.equal(formatJobLine({ rank: 0, text: 'a\nb\n' }, labels), '(head, rank=0, ip=10.0.0.1) a\n(head, rank=0, ip=10.0.0.1) b\n');
    assert.equal(formatJobLine({ rank: 7, text: 'x' }, labels), '(rank=7) x\n');
  });

  it('a one-node job is printed as is', () => {
    assert.equal(rankLabels(1, [{ rank: 0, address: '10.0.0.1' }]), undefined);
    assert.equal(formatJobLine({ rank: 0, text: 'plain' }, undefined), 'plain\n');
    assert.equal(formatJobLine({ rank: 0, text: '' }, undefined), '\n');
  });

  it('sky logs --status exits with SkyPilot’s codes', () => {
    assert.equal(statusExitCode('SUCCEEDED'), 0);
    assert.equal(statusExitCode('FAILED'), 100);
    assert.equal(statusExitCode('FAILED_SETUP'), 100);
    assert.equal(statusExitCode('RUNNING'), 101);
    assert.equal(statusExitCode('PENDING'), 101);
    assert.equal(statusExitCode('SETTING_UP'), 101);
    assert.equal(statusExitCode(undefined), 102);
    assert.equal(statusExitCode('CANCELLED'), 103);
  });

  it('says why a job ended: the daemon’s reason, else the exit codes that failed', () => {
    assert.equal(endReason({ reason: 'cancelled', exitCodes: [1] }), 'cancelled');
    assert.equal(endReason({ exitCodes: [3] }), 'exit code 3');
    assert.equal(endReason({ exitCodes: [0, 2, null] }), 'rank 1 exited 2');
    assert.equal(endReason({ exitCodes: [127] }), 'exit code 127 (command not found)');
    assert.equal(endReason({ exitCodes: [0, 0] }), undefined);
    assert.equal(endReason({}), undefined);
    assert.equal(endReason(undefined), undefined);
  });

  it('the closing hints name the job and the cluster', () => {
    assert.deepEqual(jobHints('dev', 2, true), [
      'Job ID: 2',
      '├── To cancel the job:        sky cancel dev 2',
      '├── To stream job logs:       sky logs dev 2',
      '└── To view job queue:        sky queue dev',
      '',
      'Cluster name: dev',
      '├── To submit a job:          sky exec dev TASK.yaml',
      '├── To stop the cluster:      sky stop dev',
      '└── To tear down the cluster: sky down dev',
    ]);
    assert.equal(jobHints('dev', 2, false).length, 4);
  });

  it('the plan names the cluster, the driver and what each node gets', () => {
    assert.deepEqual(planLines('dev', { driver: 'local', infra: 'local', numNodes: 2, resources: '2x local(cpus=1, mem=1GB)', existing: false }), [
      "Plan for new cluster 'dev' (2 nodes):",
      'INFRA  DRIVER  NODES  RESOURCES',
      'local  local   2      2x local(cpus=1, mem=1GB)',
    ]);
  });
});

describe('confirmation', () => {
  it('-y goes ahead; without it a terminal is asked and anything else is refused', () => {
    assert.equal(confirmation(true, false), 'proceed');
    assert.equal(confirmation(true, true), 'proceed');
    assert.equal(confirmation(undefined, true), 'ask');
    assert.equal(confirmation(false, false), 'refuse');
  });

  it('refusing says what would have happened and to pass -y, as a usage error of the command', async () => {
    await assert.rejects(
      confirmOrAbort({ question: 'Stopping 1 cluster: dev. Proceed?', yes: undefined, action: 'sky stop would stop 1 cluster: dev', help: 'sky stop --help', interactive: false }),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.message, 'sky stop would stop 1 cluster: dev; pass -y to confirm (stdin is not a terminal)');
        assert.equal(err.helpCommand, 'sky stop --help');
        return true;
      },
    );
    assert.equal(await confirmOrAbort({ question: 'q', yes: true, action: 'a', help: 'h', interactive: false }), true);
  });

  it('[Y/n]: an empty answer is yes, y/yes is yes, anything else is no', () => {
    for (const a of ['', ' ', 'y', 'Y', 'yes', 'YES']) assert.equal(isYes(a, true), true, JSON.stringify(a));
    for (const a of ['n', 'no', 'nope', 'yy']) assert.equal(isYes(a, true), false, a);
    assert.equal(isYes('', false), false);
  });

  it('asks on the given streams; end of input is no', async () => {
    const io = () => ({ input: new PassThrough(), output: new PassThrough() });
    const yes = io();
    let asked = '';
    yes.output.on('data', (d: Buffer) => (asked += d.toString()));
    const answer = ask('Launching a new cluster \'dev\'. Proceed?', true, yes);
    yes.input.write('\n');
    assert.equal(await answer, true);
    assert.equal(asked, "Launching a new cluster 'dev'. Proceed? [Y/n]: ");
    const no = io();
    const refused = ask('Proceed?', true, no);
    no.input.write('n\n');
    assert.equal(await refused, false);
    const eof = io();
    const ended = ask('Proceed?', true, eof);
    eof.input.end();
    assert.equal(await ended, false);
  });
});

describe('stop, start, down, autostop', () => {
  const records = [cluster('up'), cluster('stopped', { status: 'STOPPED' }), cluster('init', { status: 'INIT' })];

  it('-a picks what the command can act on', () => {
    assert.deepEqual(selectForAll('stop', records), { names: ['up', 'init'], skipped: [] });
    assert.deepEqual(selectForAll('start', records), { names: ['stopped', 'init'], skipped: ['up'] });
    assert.deepEqual(selectForAll('down', records), { names: ['up', 'stopped', 'init'], skipped: [] });
    assert.deepEqual(selectForAll('autostop', records), { names: ['up', 'stopped', 'init'], skipped: [] });
  });

  it('is worded as SkyPilot words it', () => {
    assert.equal(wording('stop', {}).operation, 'Stopping');
    assert.equal(wording('start', {}).operation, 'Restarting');
    assert.equal(wording('down', {}).operation, 'Terminating');
    assert.equal(wording('autostop', {}).operation, 'Scheduling autostop on');
    assert.equal(wording('autostop', { down: true }).operation, 'Scheduling autodown on');
    assert.equal(wording('autostop', { cancel: true }).operation, 'Cancelling auto{stop,down} on');
    assert.deepEqual(successLines('stop', 'dev', {}), ['Stopping cluster dev...done.', '  To restart the cluster, run: sky start dev']);
    assert.deepEqual(successLines('autostop', 'dev', { idleMinutes: 1, down: true }), [
      'Scheduling autodown on cluster dev...done.',
      '  The cluster will be autodowned after 1 minute of idleness.',
      '  To cancel the autodown, run: sky autostop dev --cancel',
    ]);
  });

  it('autostop sends SkyPilot’s default of 5 idle minutes, or the cancel', () => {
    assert.deepEqual(autostopBody('dev', {}), { cluster: 'dev', idle_minutes: 5 });
    assert.deepEqual(autostopBody('dev', { idleMinutes: 30, down: true }), { cluster: 'dev', idle_minutes: 30, down: true });
    assert.deepEqual(autostopBody('dev', { cancel: true }), { cluster: 'dev', cancel: true });
  });
});
