// Managed jobs on a team server, as the other members would use them: the queue shows others'
// jobs but not those of a private workspace; nobody but the owner or an admin cancels a job or
// reads its log; a private workspace's jobs are answered as if they did not exist (audited); a
// member removed from the workspace loses sight of its jobs; task secrets reach the task and
// nothing else; and no managed-job route answers a caller without credentials.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROUTE_LIST } from '@sky/protocol';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorOf, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { codeOf, route, TeamClient, type Account } from '../helpers/authz-client.js';

const TERMINAL = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'FAILED_NO_RESOURCE', 'FAILED_CONTROLLER', 'CANCELLED'];
const WS = 'mj-lab';
const HF_TOKEN = `hf_${randomBytes(16).toString('hex')}`;

interface ManagedJob {
  id: number;
  status: string;
  workspace: string;
  tasks: Array<{ cluster?: string }>;
}
interface Detail {
  job: ManagedJob;
  events: Array<{ text: string }>;
}

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;
let carol: Account;
/** alice's in the default workspace and in the private one, carol's there, bob's in the default one. */
let aliceJob = 0;
let aliceLabJob = 0;
let carolLabJob = 0;
let bobJob = 0;

before(async () => {
  d = await startTeamDaemon([]);
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('mj-alice');
  bob = await api.createUser('mj-bob');
  carol = await api.createUser('mj-carol');
  const ws = await api.json(api.admin, '/api/v1/workspaces', { method: 'POST', body: { name: WS, private: true, allowed_users: [alice.name, carol.name] } });
  assert.equal(ws.status, 201, ws.text);
});

after(async () => {
  // Whatever is still running ends with its cluster: the admin cancels every user's.
  if (d && d.child.exitCode === null) await api.op(api.admin, 'jobs_cancel', { all: true, all_users: true }).catch(() => undefined);
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

async function launch(who: Account, task: unknown, workspace?: string): Promise<{ jobId: number; requestId: string }> {
  const made = await api.must(who, 'jobs_launch', { tasks: [{ task }] }, workspace);
  return { jobId: (made.result as { jobId: number }).jobId, requestId: made.id };
}

function get(who: Account, id: number): Promise<{ status: number; body: Detail; text: string }> {
  return api.json<Detail>(who, `/api/v1/managed-jobs/${id}`);
}

async function until(id: number, want: (j: ManagedJob) => boolean, what: string, ms = 60_000): Promise<ManagedJob> {
  for (const end = Date.now() + ms; ; ) {
    const { body } = await get(api.admin, id);
    if (want(body.job)) return body.job;
    assert.ok(Date.now() < end, `managed job ${id} ${what}: it is ${body.job.status} (${body.events.map((e) => e.text).join(' | ')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A managed job's log (without follow, so the stream ends): the answer, and its log lines when it is a stream. */
async function logs(who: Account, id: number, controller = false): Promise<{ status: number; text: string; lines: string[] }> {
  const res = await api.call(who, route('managedJobLogs'), { params: { id: String(id) }, query: `follow=false${controller ? '&controller=true' : ''}` });
  const lines: string[] = [];
  if (res.status === 200) {
    for (const block of res.text.split('\n\n')) {
      const data = block.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
      if (block.startsWith('event: log') && data) lines.push((JSON.parse(data) as { text: string }).text);
    }
  }
  return { status: res.status, text: res.text, lines };
}

async function untilLogged(id: number, line: string): Promise<void> {
  for (const end = Date.now() + 60_000; ; ) {
    const got = await logs(api.admin, id);
    if (got.lines.includes(line)) return;
    if (Date.now() >= end) {
      const { body } = await get(api.admin, id);
      assert.fail(`managed job ${id} never logged ${line}: it is ${body.job.status}, its log ${JSON.stringify(got.text)}, its controller's ${body.events.map((e) => e.text).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function listed(who: Account, allUsers: boolean): Promise<number[]> {
  const res = await api.json<{ items: ManagedJob[] }>(who, `/api/v1/managed-jobs${allUsers ? '?all_users=true' : ''}`);
  assert.equal(res.status, 200, res.text);
  return res.body.items.map((j) => j.id).sort((a, b) => a - b);
}

async function deniedEntry(who: Account, since: number, action: string, target: string, detail: string): Promise<void> {
  const entries = await api.auditOf(who.name, since);
  assert.ok(
    entries.some((e) => e.result === 'DENIED' && e.action === action && e.target === target && e.detail === detail),
    `no DENIED ${action} ${target} (${detail}) for ${who.name}: ${JSON.stringify(entries)}`,
  );
}

/** Answered exactly as a managed job that does not exist. */
function assertNotFound(answer: { status: number; text: string }, id: number): void {
  assert.equal(answer.status, 404, answer.text);
  assert.equal(errorOf(answer.text).code, 'MANAGED_JOB_NOT_FOUND');
  assert.equal(errorOf(answer.text).message, `no managed job ${id}`);
  assert.doesNotMatch(answer.text, new RegExp(WS));
}

const sorted = (ids: number[]): number[] => [...ids].sort((a, b) => a - b);

describe('managed jobs on a team server', () => {
  it("jobs queue shows the caller's; -u shows everyone's except a private workspace's the caller is not in", async () => {
    aliceJob = (await launch(alice, { run: 'echo mj-alice-up; sleep 600' })).jobId;
    aliceLabJob = (await launch(alice, { run: 'echo mj-lab-up; sleep 600' }, WS)).jobId;
    carolLabJob = (await launch(carol, { run: 'sleep 600' }, WS)).jobId;
    bobJob = (await launch(bob, { run: 'sleep 600' })).jobId;
    const all = sorted([aliceJob, aliceLabJob, carolLabJob, bobJob]);
    assert.deepEqual(await listed(bob, false), [bobJob]);
    assert.deepEqual(await listed(bob, true), sorted([aliceJob, bobJob]));
    const bobs = await api.json(bob, '/api/v1/managed-jobs?all_users=true');
    assert.doesNotMatch(bobs.text, new RegExp(WS), 'nothing of the private workspace, not even its name');
    assert.deepEqual(await listed(alice, false), sorted([aliceJob, aliceLabJob]));
    assert.deepEqual(await listed(alice, true), all);
    assert.deepEqual(await listed(carol, true), all);
    assert.deepEqual(await listed(api.admin, true), all);
  });

  it("refuses another member the log of a job (audited) and answers a private workspace's job as if it did not exist (audited)", async () => {
    await untilLogged(aliceJob, 'mj-alice-up');
    let since = Date.now() - 5;
    const bobs = await logs(bob, aliceJob);
    assert.equal(bobs.status, 403, bobs.text);
    assert.equal(errorOf(bobs.text).code, 'FORBIDDEN');
    assert.match(errorOf(bobs.text).message, /belongs to mj-alice/);
    assert.doesNotMatch(bobs.text, /mj-alice-up/);
    await deniedEntry(bob, since, 'jobs.logs', String(aliceJob), 'FORBIDDEN');
    since = Date.now() - 5;
    const controller = await logs(bob, aliceJob, true);
    assert.equal(controller.status, 403, 'the controller log (provisioning, hosts, errors) is for the owner and admins too');
    await deniedEntry(bob, since, 'jobs.logs', String(aliceJob), 'FORBIDDEN');
    assert.ok((await logs(alice, aliceJob)).lines.includes('mj-alice-up'), 'the owner reads it');
    assert.ok((await logs(alice, aliceJob, true)).lines.length > 0, 'and its controller log');
    const record = await get(bob, aliceJob);
    assert.equal(record.status, 200, "a job of the default workspace is in everyone's queue, so its record is too");
    assert.deepEqual(record.body.events, [], 'without its controller log');
    assert.ok((await get(alice, aliceJob)).body.events.length > 0);

    // A private workspace's job, to a non-member: the same answer as an id nobody has.
    assertNotFound(await api.json(bob, '/api/v1/managed-jobs/99999'), 99999);
    since = Date.now() - 5;
    assertNotFound(await get(bob, aliceLabJob), aliceLabJob);
    await deniedEntry(bob, since, 'jobs.read', String(aliceLabJob), 'MANAGED_JOB_NOT_FOUND');
    since = Date.now() - 5;
    assertNotFound(await logs(bob, aliceLabJob), aliceLabJob);
    assertNotFound(await logs(bob, aliceLabJob, true), aliceLabJob);
    await deniedEntry(bob, since, 'jobs.logs', String(aliceLabJob), 'MANAGED_JOB_NOT_FOUND');
    since = Date.now() - 5;
    const cancel = await api.op(bob, 'jobs_cancel', { job_ids: [aliceLabJob] });
    assert.equal(cancel.record?.status, 'FAILED');
    assert.deepEqual([cancel.record?.error?.code, cancel.record?.error?.message], ['MANAGED_JOB_NOT_FOUND', `no managed job ${aliceLabJob}`]);
    await deniedEntry(bob, since, 'jobs.cancel', String(aliceLabJob), 'MANAGED_JOB_NOT_FOUND');

    const admins = await get(api.admin, aliceLabJob);
    assert.equal(admins.status, 200, admins.text);
    await untilLogged(aliceLabJob, 'mj-lab-up');
  });

  it("bob cannot cancel alice's job, by id (audited) or with all; all_users needs an admin; the admin can", async () => {
    const running = await until(aliceJob, (j) => j.status === 'RUNNING' && j.tasks[0]?.cluster !== undefined, 'runs');
    const cluster = running.tasks[0]!.cluster!;
    let since = Date.now() - 5;
    const byId = await api.op(bob, 'jobs_cancel', { job_ids: [aliceJob] });
    assert.equal(byId.record?.status, 'FAILED', JSON.stringify(byId.record));
    assert.equal(byId.record?.error?.code, 'FORBIDDEN');
    assert.match(byId.record!.error!.message, new RegExp(`managed job ${aliceJob} belongs to mj-alice`));
    await deniedEntry(bob, since, 'jobs.cancel', String(aliceJob), 'FORBIDDEN');
    assert.equal((await get(alice, aliceJob)).body.job.status, 'RUNNING', 'untouched');
    const mixed = await api.op(bob, 'jobs_cancel', { job_ids: [bobJob, aliceJob] });
    assert.equal(mixed.record?.error?.code, 'FORBIDDEN', JSON.stringify(mixed.record));
    assert.equal((await get(alice, aliceJob)).body.job.status, 'RUNNING', 'a refused cancel cancels none of its ids');
    assert.ok(!['CANCELLING', 'CANCELLED'].includes((await get(bob, bobJob)).body.job.status), "not even the caller's own");

    const mine = await api.op(bob, 'jobs_cancel', { all: true });
    assert.equal(mine.record?.status, 'SUCCEEDED', JSON.stringify(mine.record));
    assert.deepEqual(mine.record?.result, { cancelled: [bobJob], alreadyFinished: [] });
    for (const id of [aliceJob, aliceLabJob, carolLabJob]) assert.equal((await get(api.admin, id)).body.job.status, 'RUNNING', `job ${id} is not bob's`);

    since = Date.now() - 5;
    const everyone = await api.op(bob, 'jobs_cancel', { all: true, all_users: true });
    assert.equal(everyone.submit.status, 403, everyone.submit.text);
    assert.equal(codeOf(everyone.submit), 'FORBIDDEN');
    assert.match(errorOf(everyone.submit.text).message, /cancelling every user's managed jobs needs the admin role/);
    assert.ok((await api.auditOf(bob.name, since)).some((e) => e.result === 'DENIED' && e.action === 'jobs_cancel'), 'the refusal is audited');
    assert.equal((await get(alice, aliceJob)).body.job.status, 'RUNNING', 'still untouched');

    since = Date.now() - 5;
    const byAdmin = await api.op(api.admin, 'jobs_cancel', { job_ids: [aliceJob] });
    assert.equal(byAdmin.record?.status, 'SUCCEEDED', JSON.stringify(byAdmin.record));
    assert.deepEqual(byAdmin.record?.result, { cancelled: [aliceJob], alreadyFinished: [] });
    const ended = await get(alice, aliceJob);
    assert.equal(ended.body.job.status, 'CANCELLED');
    assert.ok(ended.body.events.some((e) => e.text === `cancel requested by ${TEAM_ADMIN.name}`), ended.text);
    assert.equal((await api.json(api.admin, `/api/v1/clusters/${cluster}`)).status, 404, `its cluster ${cluster} is gone`);
    assert.ok((await api.auditOf(TEAM_ADMIN.name, since)).some((e) => e.action === 'jobs_cancel' && e.result === 'SUCCEEDED'), "the admin's cancel is audited");
  });

  it('a member removed from the workspace no longer sees its jobs nor cancels them', async () => {
    const removal = await api.json(api.admin, `/api/v1/workspaces/${WS}`, { method: 'POST', body: { allowed_users: [alice.name] } });
    assert.equal(removal.status, 200, removal.text);
    assert.deepEqual(await listed(carol, true), sorted([aliceJob, carolLabJob, bobJob]), "her own job is still listed to her, alice's in the workspace is not");
    let since = Date.now() - 5;
    assertNotFound(await get(carol, aliceLabJob), aliceLabJob);
    assertNotFound(await logs(carol, aliceLabJob), aliceLabJob);
    await deniedEntry(carol, since, 'jobs.read', String(aliceLabJob), 'MANAGED_JOB_NOT_FOUND');
    await deniedEntry(carol, since, 'jobs.logs', String(aliceLabJob), 'MANAGED_JOB_NOT_FOUND');
    since = Date.now() - 5;
    const theirs = await api.op(carol, 'jobs_cancel', { job_ids: [aliceLabJob] });
    assert.equal(theirs.record?.error?.code, 'MANAGED_JOB_NOT_FOUND', JSON.stringify(theirs.record));
    await deniedEntry(carol, since, 'jobs.cancel', String(aliceLabJob), 'MANAGED_JOB_NOT_FOUND');
    assert.equal((await get(alice, aliceLabJob)).body.job.status, 'RUNNING', "alice's job runs on");

    // Her own job there: the controller leaves it running; she may look at it, but no longer change it (as with her clusters there).
    const own = await get(carol, carolLabJob);
    assert.equal(own.status, 200, own.text);
    assert.equal(own.body.job.status, 'RUNNING');
    since = Date.now() - 5;
    const cancelOwn = await api.op(carol, 'jobs_cancel', { all: true });
    assert.equal(cancelOwn.record?.error?.code, 'FORBIDDEN', JSON.stringify(cancelOwn.record));
    assert.match(cancelOwn.record!.error!.message, new RegExp(`managed job ${carolLabJob} is in private workspace ${WS}`));
    await deniedEntry(carol, since, 'jobs.cancel', String(carolLabJob), 'FORBIDDEN');
    const byAdmin = await api.op(api.admin, 'jobs_cancel', { job_ids: [carolLabJob, aliceLabJob] });
    const result = byAdmin.record?.result as { cancelled: number[]; alreadyFinished: number[] } | undefined;
    assert.deepEqual([sorted(result?.cancelled ?? []), result?.alreadyFinished], [sorted([carolLabJob, aliceLabJob]), []], JSON.stringify(byAdmin.record));
  });

  it('task secrets reach the task and nowhere else: not requests, records, logs, nor the state files', async () => {
    const digest = createHash('sha256').update(HF_TOKEN).digest('hex');
    const run = `[ "\${#HF_TOKEN}" -eq ${HF_TOKEN.length} ] && [ "$(printf %s "$HF_TOKEN" | sha256sum | cut -c1-64)" = "${digest}" ] && echo mj-token-ok`;
    const { jobId, requestId } = await launch(alice, { name: 'mj-secret', secrets: { HF_TOKEN }, run });
    const ended = await until(jobId, (j) => TERMINAL.includes(j.status), 'ends');
    assert.equal(ended.status, 'SUCCEEDED', 'the task got its secret');
    const taskLog = await logs(alice, jobId);
    assert.ok(taskLog.lines.includes('mj-token-ok'), taskLog.text);

    const leaks: string[] = [];
    const look = (where: string, text: string): void => void (text.includes(HF_TOKEN) && leaks.push(where));
    for (const who of [alice, api.admin]) {
      const req = await api.json<{ body: { tasks: Array<{ task: { secrets?: Record<string, string> } }> } }>(who, `/api/v1/requests/${requestId}`);
      assert.deepEqual(req.body.body.tasks[0]?.task.secrets, { HF_TOKEN: '***' }, `${who.name}: the name is shown, masked`);
      look(`request to ${who.name}`, req.text);
      look(`request listing to ${who.name}`, (await api.json(who, '/api/v1/requests?all_users=true&limit=1000')).text);
      look(`request log to ${who.name}`, (await api.json(who, `/api/v1/requests/${requestId}/logs?follow=false`)).text);
      look(`managed job to ${who.name}`, (await get(who, jobId)).text);
      look(`queue to ${who.name}`, (await api.json(who, '/api/v1/managed-jobs?all_users=true')).text);
      const controller = await logs(who, jobId, true);
      assert.ok(controller.lines.length > 0, 'the controller log has lines');
      look(`controller log to ${who.name}`, controller.text);
      look(`task log to ${who.name}`, taskLog.text);
    }
    look('the daemon stderr', d.stderr());
    const stateDir = join(d.home, '.sky', 'api_server');
    const files = filesUnder(stateDir);
    assert.ok(files.some((f) => f.includes(join('api_server', 'state')) && f.endsWith('.log')), 'the LevelDB log is among the files read');
    let sealed = false;
    for (const file of files) {
      const bytes = readFileSync(file);
      if (bytes.includes(HF_TOKEN)) leaks.push(file);
      sealed ||= bytes.includes('sky-sealed:v1:');
    }
    assert.deepEqual(leaks, [], 'the secret value is shown or stored in plain text');
    assert.ok(sealed, 'the store holds it sealed');
  });

  it('answers 401 to callers without valid credentials on every managed-job route', async () => {
    const ids = ['listManagedJobs', 'getManagedJob', 'managedJobLogs', 'jobs_launch', 'jobs_cancel'];
    const specs = ROUTE_LIST.filter((r) => ids.includes(r.id) || (r.operation !== undefined && ids.includes(r.operation)));
    assert.equal(specs.length, ids.length);
    const bodies: Record<string, unknown> = { jobs_launch: { tasks: [{ task: { run: 'true' } }] }, jobs_cancel: { job_ids: [aliceLabJob] } };
    const before = await listed(api.admin, true);
    let n = 0;
    for (const spec of specs) {
      for (const who of [undefined, { name: `mj-mallory-${(n += 1)}`, password: 'not-a-password' }]) {
        const res = await api.call(who, spec, { params: { id: String(aliceLabJob) }, query: 'follow=false', body: bodies[spec.operation ?? ''] ?? {} });
        assert.deepEqual([res.status, codeOf(res)], [401, 'UNAUTHENTICATED'], `${spec.method} ${spec.path} ${who ? 'wrong' : 'no'} credentials: ${res.text}`);
      }
      const bearer = await http(`${d.url}${spec.path.replace(':id', String(aliceLabJob))}`, { method: spec.method.toUpperCase(), headers: { authorization: `Bearer sky_${randomBytes(16).toString('hex')}` } });
      assert.equal(bearer.status, 401, `${spec.path} with a made-up token: ${bearer.text}`);
    }
    assert.deepEqual(await listed(api.admin, true), before, 'no job was made');
    assert.equal((await get(alice, aliceLabJob)).body.job.status, 'CANCELLED', 'by the admin, before');
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
    assert.equal(d.child.exitCode, null);
  });
});

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}
