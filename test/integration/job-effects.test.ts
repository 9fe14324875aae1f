/**
 * What jobs actually do on real nodes, checked by their effects rather than their statuses: a
 * daemon (LevelDB on disk) with the local driver, the jobs' own processes on this machine, their
 * logs through the REST API. A gang where one rank fails ends the other ranks' processes and
 * records every rank's exit code; ranks that finish in any order end the job only after the last;
 * a cancel leaves no process behind (also one that ignores SIGTERM); CUDA_VISIBLE_DEVICES is what
 * the job printed (GPUs from a fake nvidia-smi); SKYPILOT_NODE_IPS lists the hosts in rank order
 * (SSH hosts in network namespaces, where every rank has its own address); SkyPilot's env smoke
 * test (an export setup appends to ~/.bashrc reaches run) passes on both drivers, with
 * SKYPILOT_USER and SKYPILOT_NUM_GPUS_PER_NODE as the job printed them; and an exec the
 * daemon answered 202 runs exactly once across a kill -9 before its job started.
 *
 * Jobs wait on files this test creates instead of sleeping, and the test polls for every
 * condition; every process it started is stopped by PID.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runOperation } from '../helpers/team.js';

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };
const ENDED = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'];

interface Rec {
  id: string;
  status: string;
  result?: { jobId?: number; cluster: string };
  error?: { code: string; message: string };
  job?: { cluster: string; id: number };
}
interface Job {
  id: number;
  status: string;
  exitCodes?: Array<number | null>;
  gpuIndices?: number[][];
  requestId?: string;
  reason?: string;
}
interface Cluster {
  nodes: Array<{ rank: number; address: string; reach: { gpuIndices?: number[] } }>;
}
interface LogLine {
  rank: number;
  text: string;
}

/** Poll `probe` every 100 ms until it returns a value other than undefined; fail with `what` at the deadline. */
async function until<T>(what: () => string, probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A process is alive while /proc has it and it is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Talks to one daemon as alice. */
class Api {
  constructor(public d: DaemonHandle) {}

  op(name: string, body: unknown): Promise<Rec> {
    return runOperation<Rec>(this.d.url, name, body, HEADERS);
  }

  async post(name: string, body: unknown): Promise<string> {
    const res = await http(`${this.d.url}/api/v1/${name}`, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
    assert.equal(res.status, 202, res.text);
    return (res.json() as { requestId: string }).requestId;
  }

  async request(id: string): Promise<Rec> {
    const res = await http(`${this.d.url}/api/v1/requests/${id}`, { headers: HEADERS });
    assert.equal(res.status, 200, res.text);
    return res.json() as Rec;
  }

  async jobs(cluster: string): Promise<Job[]> {
    const res = await http(`${this.d.url}/api/v1/clusters/${cluster}/jobs?all_users=true`, { headers: HEADERS });
    assert.equal(res.status, 200, res.text);
    return (res.json() as { items: Job[] }).items;
  }

  async job(cluster: string, id: number): Promise<Job | undefined> {
    return (await this.jobs(cluster)).find((j) => j.id === id);
  }

  async cluster(name: string): Promise<Cluster> {
    const res = await http(`${this.d.url}/api/v1/clusters/${name}`, { headers: HEADERS });
    assert.equal(res.status, 200, res.text);
    return res.json() as Cluster;
  }

  /** The job's log so far (not followed). */
  async log(cluster: string, id: number): Promise<LogLine[]> {
    const res = await http(`${this.d.url}/api/v1/clusters/${cluster}/jobs/${id}/logs?follow=false`, { headers: HEADERS });
    assert.equal(res.status, 200, res.text);
    return res.text
      .split('\n\n')
      .filter((b) => b.startsWith('event: log'))
      .map((b) => JSON.parse(b.split('data: ')[1]!) as LogLine);
  }

  /** Poll the job's log until every one of `ranks` printed a line `KEY=value` for each key; the values by rank. */
  async printed(cluster: string, id: number, ranks: number, keys: readonly string[]): Promise<Array<Record<string, string>>> {
    let last: LogLine[] = [];
    return until(
      () => `job ${id} on ${cluster} printed ${JSON.stringify(last)}, waiting for ${keys.join(', ')} from ${ranks} ranks`,
      async () => {
        last = await this.log(cluster, id);
        const byRank = Array.from({ length: ranks }, (_, rank) => {
          const seen: Record<string, string> = {};
          for (const l of last.filter((x) => x.rank === rank)) {
            const m = /^([A-Za-z_]+)=(.*)$/.exec(l.text);
            if (m) seen[m[1]!] = m[2]!;
          }
          return seen;
        });
        return byRank.every((seen) => keys.every((k) => k in seen)) ? byRank : undefined;
      },
    );
  }

  async ended(cluster: string, id: number, ms = 60_000): Promise<Job> {
    let last: Job | undefined;
    return until(
      () => `job ${id} on ${cluster} is ${last?.status}${last?.reason ? ` (${last.reason})` : ''}`,
      async () => {
        last = await this.job(cluster, id);
        return last !== undefined && ENDED.includes(last.status) ? last : undefined;
      },
      ms,
    );
  }

  /** Launch `cluster` and wait for the launch's own job to end. */
  async launch(cluster: string, task: Record<string, unknown>): Promise<void> {
    const rec = await this.op('launch', { cluster, task: { run: 'true', ...task } });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.equal((await this.ended(cluster, rec.result!.jobId!)).status, 'SUCCEEDED');
  }

  /** Exec `run` on `cluster`; the job id once the request succeeded. */
  async exec(cluster: string, task: Record<string, unknown>): Promise<number> {
    const rec = await this.op('exec', { cluster, task });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    return rec.result!.jobId!;
  }
}

async function gone(pids: readonly number[]): Promise<void> {
  await until(() => `processes still alive: ${pids.filter(alive).join(', ')}`, () => (pids.some(alive) ? undefined : true), 30_000);
}

const dirs: string[] = [];
const homes: string[] = [];
/** Processes the jobs started, by PID: ended in `after` if a test failed before they were. */
const jobPids = new Set<number>();

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

function remember(values: ReadonlyArray<Record<string, string>>, keys: readonly string[]): number[] {
  const pids = values.flatMap((v) => keys.map((k) => Number(v[k])));
  for (const pid of pids) {
    assert.ok(Number.isInteger(pid) && pid > 1, `a job printed pid ${pid}`);
    jobPids.add(pid);
  }
  return pids;
}

after(async () => {
  for (const pid of jobPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await killAllDaemons();
  if (process.env.KEEP !== '1') homes.forEach(removeHome);
  if (process.env.KEEP !== '1') for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A gang rank's script: print its shell's pid and a child's, wait for `$GO/<rank>`, exit with `$CODE_<rank>` (0 by default). */
const GANG_RUN = [
  'sleep 600 & child=$!',
  'echo "pid=$$"',
  'echo "child=$child"',
  'while [ ! -e "$GO/$SKYPILOT_NODE_RANK" ]; do sleep 0.05; done',
  'kill "$child"',
  'eval "code=\\${CODE_$SKYPILOT_NODE_RANK:-0}"',
  'exit "$code"',
].join('\n');

/** SkyPilot's environment smoke test, in its shape: setup appends an export to ~/.bashrc, run needs it. */
const ENV_SMOKE_TASK = {
  setup: "echo 'export TEST_VAR=1' >> ~/.bashrc",
  run: ['if [ -z "$TEST_VAR" ]; then echo "TEST_VAR is not set"; exit 1; fi', 'echo "TEST_VAR=$TEST_VAR"', 'echo "user=$SKYPILOT_USER"', 'echo "ngpus=$SKYPILOT_NUM_GPUS_PER_NODE"'].join('\n'),
};

describe('job effects on the local driver', () => {
  let api: Api;
  let home: string;
  let port: number;
  let config: string;
  let env: Record<string, string>;

  before(async () => {
    home = tempHome();
    homes.push(home);
    port = await freePort();
    // Four fake GPUs: the local driver asks nvidia-smi at init and pins whole GPUs by index.
    const bin = tempDir('sky-fake-gpus-');
    const smi = join(bin, 'nvidia-smi');
    writeFileSync(smi, '#!/bin/sh\nfor i in 0 1 2 3; do echo "NVIDIA H100 80GB HBM3, 81559 MiB"; done\n');
    chmodSync(smi, 0o755);
    env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    config = `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 8\n    memory_gb: 16\n`;
    api = new Api(await startDaemon({ home, port, config, env }));
  });

  after(async () => {
    await api?.d.stop();
  });

  it('a 3-node gang where one rank fails: the job FAILED, every rank has its exit code, the other ranks are ended', async () => {
    await api.launch('gang', { num_nodes: 3 });
    const go = tempDir('sky-go-');
    const id = await api.exec('gang', { num_nodes: 3, envs: { GO: go, CODE_1: '7' }, run: GANG_RUN });
    const printed = await api.printed('gang', id, 3, ['pid', 'child']);
    const pids = remember(printed, ['pid', 'child']);
    assert.equal(new Set(pids).size, 6, 'every rank runs its own processes');
    assert.ok(pids.every(alive), 'all ranks are running before rank 1 fails');
    writeFileSync(join(go, '1'), '');
    const job = await api.ended('gang', id);
    assert.equal(job.status, 'FAILED');
    assert.equal(job.exitCodes?.length, 3, `exit codes per rank: ${JSON.stringify(job.exitCodes)}`);
    assert.equal(job.exitCodes[1], 7, 'the failed rank exited 7');
    assert.notEqual(job.exitCodes[0], 0, 'rank 0 was ended, not finished');
    assert.notEqual(job.exitCodes[2], 0, 'rank 2 was ended, not finished');
    // Ranks 0 and 2 never got their go file: the gang ended them, and the children they started.
    await gone(pids);
  });

  it('ranks that finish in different orders: the job runs until the last one ends, then SUCCEEDED', async () => {
    const go = tempDir('sky-go-');
    const id = await api.exec('gang', { num_nodes: 3, envs: { GO: go }, run: GANG_RUN });
    const printed = await api.printed('gang', id, 3, ['pid', 'child']);
    remember(printed, ['pid', 'child']);
    const shell = printed.map((p) => Number(p.pid));
    for (const rank of [2, 0]) {
      writeFileSync(join(go, String(rank)), '');
      await gone([shell[rank]!]);
      const status = (await api.job('gang', id))?.status;
      assert.ok(status !== undefined && !ENDED.includes(status), `rank ${rank} ended, others still run: the job is ${status}`);
      assert.ok(alive(shell[1]!), 'rank 1 still runs');
    }
    writeFileSync(join(go, '1'), '');
    const job = await api.ended('gang', id);
    assert.equal(job.status, 'SUCCEEDED');
    assert.deepEqual(job.exitCodes, [0, 0, 0]);
  });

  it("a local rank is started by the node's launcher, not by a fork of the daemon: the runner leads a session of its own and starts the job with the umask the daemon was started with", async () => {
    await api.launch('direct', {});
    const go = tempDir('sky-go-');
    const run = ['echo "runner=$PPID"', 'echo "mask=$(umask)"', 'echo "pid=$$"', 'while [ ! -e "$GO/0" ]; do sleep 0.05; done'].join('\n');
    const id = await api.exec('direct', { envs: { GO: go }, run });
    const [printed] = await api.printed('direct', id, 1, ['runner', 'mask', 'pid']);
    remember([printed!], ['pid']);
    const runner = Number(printed!.runner);
    const cmdline = readFileSync(`/proc/${runner}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.some((a) => a.endsWith('/sky-node.sh')) && cmdline.includes('run'), `the job's parent is the runner: ${cmdline.join(' ')}`);
    const stat = readFileSync(`/proc/${runner}/stat`, 'utf8');
    const [, ppid, , sid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    assert.notEqual(ppid, api.d.pid, 'the runner is not a fork of the daemon');
    assert.equal(sid, runner, 'the runner leads a session of its own (it outlives the daemon)');
    const children = readdirSync(`/proc/${api.d.pid}/task`).flatMap((task) => readFileSync(`/proc/${api.d.pid}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean));
    // The node root: where the runner's script is installed.
    const root = cmdline.find((a) => a.endsWith('/sky-node.sh'))!.replace(/\/\.sky\/runtime\/\d+\/sky-node\.sh$/, '');
    const launchers = children.filter((pid) => {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return argv.includes('sky-node.sh') && argv.includes('launcher') && readlinkSync(`/proc/${pid}/cwd`) === root;
    });
    assert.equal(launchers.length, 1, `one launcher runs for the node, a child of the daemon (children: ${children.join(' ')})`);
    assert.equal(printed!.mask, process.umask().toString(8).padStart(4, '0'), "the job has the daemon's starting umask, not the daemon's own 077");
    writeFileSync(join(go, '0'), '');
    assert.equal((await api.ended('direct', id)).status, 'SUCCEEDED');
  });

  it('cancel ends the processes of every rank, also one that ignores SIGTERM, not only the status', async () => {
    const run = ['sleep 600 & child=$!', `sh -c 'trap "" TERM; echo "stubborn=$$"; while :; do sleep 1; done' &`, 'echo "pid=$$"', 'echo "child=$child"', 'wait'].join('\n');
    const id = await api.exec('gang', { num_nodes: 2, run });
    const printed = await api.printed('gang', id, 2, ['pid', 'child', 'stubborn']);
    const pids = remember(printed, ['pid', 'child', 'stubborn']);
    assert.ok(pids.every(alive));
    const cancel = await api.op('cancel', { cluster: 'gang', job_ids: [id] });
    assert.equal(cancel.status, 'SUCCEEDED', JSON.stringify(cancel.error));
    assert.equal((await api.ended('gang', id)).status, 'CANCELLED');
    await gone(pids);
  });

  it('CUDA_VISIBLE_DEVICES is what the job printed: the GPUs pinned to it, distinct for jobs that run together', async () => {
    await api.launch('gpu', { resources: { accelerators: 'H100:2' } });
    const held = (await api.cluster('gpu')).nodes[0]!.reach.gpuIndices;
    assert.equal(held?.length, 2, `the node holds two GPUs: ${JSON.stringify(held)}`);
    const go = tempDir('sky-go-');
    const run = 'echo "cuda=$CUDA_VISIBLE_DEVICES"\necho "ngpus=$SKYPILOT_NUM_GPUS_PER_NODE"\necho "pid=$$"\nwhile [ ! -e "$GO/0" ]; do sleep 0.05; done';
    const task = { resources: { accelerators: 'H100:1' }, envs: { GO: go }, run };
    const ids = [await api.exec('gpu', task), await api.exec('gpu', task)];
    const printed = await Promise.all(ids.map((id) => api.printed('gpu', id, 1, ['cuda', 'ngpus', 'pid'])));
    for (const p of printed) remember(p, ['pid']);
    assert.deepEqual(printed.map((p) => p[0]!.ngpus), ['1', '1'], 'SKYPILOT_NUM_GPUS_PER_NODE is the count each job asked for');
    const jobs = await Promise.all(ids.map((id) => api.job('gpu', id)));
    const seen = printed.map((p) => p[0]!.cuda!);
    jobs.forEach((job, i) => assert.equal(seen[i], job!.gpuIndices?.[0]?.join(','), `job ${job!.id} printed what its record pins`));
    assert.notEqual(seen[0], seen[1], 'two jobs at once get different GPUs');
    assert.deepEqual(seen.map(Number).sort(), [...held!].sort(), 'together they use the GPUs the node holds');
    writeFileSync(join(go, '0'), '');
    for (const id of ids) assert.equal((await api.ended('gpu', id)).status, 'SUCCEEDED');
    const none = await api.exec('gpu', { run: 'echo "cuda=${CUDA_VISIBLE_DEVICES-unset}"\necho "ngpus=${SKYPILOT_NUM_GPUS_PER_NODE-unset}"' });
    assert.equal((await api.ended('gpu', none)).status, 'SUCCEEDED');
    const text = (await api.log('gpu', none)).map((l) => l.text);
    assert.ok(text.length === 2 && (text[0] === 'cuda=' || text[0] === 'cuda=unset'), `a job without GPUs sees none: ${JSON.stringify(text)}`);
    assert.equal(text[1], 'ngpus=0', 'SKYPILOT_NUM_GPUS_PER_NODE is 0 for a job without GPUs, as SkyPilot sets it');
    assert.equal((await api.op('down', { cluster: 'gpu' })).status, 'SUCCEEDED');
  });

  it("SkyPilot's env smoke test: an export setup appends to ~/.bashrc reaches run; SKYPILOT_USER is the submitter; no shell noise in the log", async () => {
    const rec = await api.op('launch', { cluster: 'bashrc', task: ENV_SMOKE_TASK });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const job = await api.ended('bashrc', rec.result!.jobId!);
    const text = (await api.log('bashrc', job.id)).map((l) => l.text);
    assert.equal(job.status, 'SUCCEEDED', `the job printed ${JSON.stringify(text)}`);
    assert.deepEqual(text, ['TEST_VAR=1', 'user=alice', 'ngpus=0'], 'exactly what the job printed: no job-control warnings');
    assert.equal((await api.op('down', { cluster: 'bashrc' })).status, 'SUCCEEDED');
  });

  it('an exec answered 202 runs exactly once and ends SUCCEEDED with its job, though the daemon was killed -9 before the job started', async () => {
    // One CPU, held by a job of 1 CPU that waits for its go file: every exec of 1 CPU after it waits in the queue.
    await api.launch('durable', { resources: { cpus: 1 } });
    const go = tempDir('sky-go-');
    const marks = join(go, 'runs');
    const busy = await api.exec('durable', { resources: { cpus: 1 }, envs: { GO: go }, run: 'echo "pid=$$"\nwhile [ ! -e "$GO/0" ]; do sleep 0.05; done' });
    remember(await api.printed('durable', busy, 1, ['pid']), ['pid']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(await api.post('exec', { cluster: 'durable', task: { resources: { cpus: 1 }, envs: { MARKS: marks, TOKEN: `run-${i}` }, run: 'echo "$TOKEN" >> "$MARKS"; echo "token=$TOKEN"' } }));
    // Right after the last 202: some of these may have queued their job, some not yet.
    await api.d.kill9();
    assert.equal(existsSync(marks), false, 'no queued job ran before the restart');
    api.d = await startDaemon({ home, port, config, env });
    writeFileSync(join(go, '0'), '');
    const recs = await Promise.all(
      ids.map((id) => {
        let last: Rec | undefined;
        return until(
          () => `request ${id} is ${last?.status}`,
          async () => {
            last = await api.request(id);
            return ['PENDING', 'RUNNING'].includes(last.status) ? undefined : last;
          },
        );
      }),
    );
    for (const rec of recs) {
      assert.equal(rec.status, 'SUCCEEDED', `${rec.id}: ${rec.status} ${rec.error?.code ?? ''} ${rec.error?.message ?? ''}`);
      assert.equal(typeof rec.result?.jobId, 'number', `${rec.id} names its job`);
    }
    const jobIds = recs.map((r) => r.result!.jobId!);
    assert.equal(new Set(jobIds).size, 5, 'one job per request');
    for (const [i, jobId] of jobIds.entries()) {
      assert.equal((await api.ended('durable', jobId)).status, 'SUCCEEDED');
      const printed = (await api.log('durable', jobId)).map((l) => l.text);
      assert.deepEqual(printed, [`token=run-${i}`], `job ${jobId} is request ${ids[i]}'s`);
    }
    const jobs = (await api.jobs('durable')).filter((j) => j.requestId !== undefined && ids.includes(j.requestId));
    assert.equal(jobs.length, 5, `jobs of these requests: ${JSON.stringify(jobs.map((j) => j.id))}`);
    const lines = readFileSync(marks, 'utf8').trim().split('\n').sort();
    assert.deepEqual(lines, ['run-0', 'run-1', 'run-2', 'run-3', 'run-4'], 'each ran exactly once');
  });
});

describe('SKYPILOT_NODE_IPS on SSH hosts (one address each)', () => {
  let set: TestHosts;
  let api: Api;

  before(async () => {
    set = await createHosts(3);
    const home = tempHome();
    homes.push(home);
    api = new Api(await startDaemon({ home, config: sshDaemonConfig(set) }));
  });

  after(async () => {
    await api?.d.stop();
    await set?.destroy();
  });

  it('lists every rank’s host in rank order, as each rank printed it, and each rank finds its own host at its index', async () => {
    const run = 'echo "rank=$SKYPILOT_NODE_RANK"\necho "home=$HOME"\necho "ips=$(printf %s "$SKYPILOT_NODE_IPS" | tr "\\n" ,)"';
    const rec = await api.op('launch', { cluster: 'ips', task: { num_nodes: 3, resources: { infra: 'ssh/pool-a' }, run } });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.equal((await api.ended('ips', rec.result!.jobId!)).status, 'SUCCEEDED');
    const printed = await api.printed('ips', rec.result!.jobId!, 3, ['rank', 'home', 'ips']);
    const byRank = (await api.cluster('ips')).nodes.sort((a, b) => a.rank - b.rank).map((n) => n.address);
    for (const [rank, p] of printed.entries()) {
      assert.equal(p.rank, String(rank));
      assert.deepEqual(p.ips!.split(','), byRank, `rank ${rank} sees the addresses in rank order`);
      const host = set.hosts.find((h) => h.home === p.home);
      assert.ok(host !== undefined, `rank ${rank} runs on a test host (HOME=${p.home})`);
      assert.equal(byRank[rank], host.ip, `rank ${rank} runs on the host listed at its index`);
    }
    assert.equal(new Set(byRank).size, 3, 'three hosts, three addresses');
    assert.equal((await api.op('down', { cluster: 'ips' })).status, 'SUCCEEDED');
  });

  it("SkyPilot's env smoke test on an SSH host: setup's export in ~/.bashrc reaches run under the host account's bash", async () => {
    const rec = await api.op('launch', { cluster: 'bashrc', task: { ...ENV_SMOKE_TASK, resources: { infra: 'ssh/pool-a' } } });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const job = await api.ended('bashrc', rec.result!.jobId!);
    const text = (await api.log('bashrc', job.id)).map((l) => l.text);
    assert.equal(job.status, 'SUCCEEDED', `the job printed ${JSON.stringify(text)}`);
    assert.deepEqual(text, ['TEST_VAR=1', 'user=alice', 'ngpus=0']);
    assert.equal((await api.op('down', { cluster: 'bashrc' })).status, 'SUCCEEDED');
  });
});
