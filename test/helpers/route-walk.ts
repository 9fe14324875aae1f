import { createHash } from 'node:crypto';
import { adminReason, decodeClusterColumns, OPERATIONS, ROUTE_LIST, type ClusterColumns, type OperationSpec, type RouteSpec } from '@sky/protocol';
import type { HttpAnswer } from './daemon-process.js';
import { codeOf, route, TeamClient, type Account, type CallInput, type OpOutcome } from './authz-client.js';

/**
 * The route-table walk: every route of ROUTE_LIST, called by five kinds of caller against real
 * resources of a team daemon (other users' requests, clusters, jobs, tokens and workspaces made
 * in the setup, so every ownership check is reached):
 *   outsider — no or wrong credentials: 401 everywhere but the public routes;
 *   user     — a plain user on their own things: allowed;
 *   other    — another plain user on the first one's things: refused, or shown without secrets;
 *   removed  — a member removed from a private workspace: refused there, even on their own cluster;
 *   admin    — allowed everywhere.
 * Admin-only routes and admin-only bodies come from the route table's metadata, not a hand list.
 * Every refusal must also be in the audit log (DENIED, by that user). The walk returns what it
 * found wrong instead of throwing, so a test can also prove that it catches planted faults.
 */

export type CallerKind = 'outsider' | 'user' | 'other' | 'removed' | 'admin';
export const CALLER_KINDS: readonly CallerKind[] = ['outsider', 'user', 'other', 'removed', 'admin'];

/** Bodies that make a user-access operation admin-only (checked against the metadata's adminWhen). */
export const ADMIN_ONLY_BODIES: Readonly<Record<string, unknown>> = {
  ping: { sleep: 60 },
  refresh: { all_users: true },
  // A name no job has: the admin's call is allowed but cancels nothing the walk still uses.
  jobs_cancel: { name: 'walk-no-such-job', all_users: true },
  // A name no service has: the admin's call is allowed and tears nothing down.
  serve_down: { service_names: ['walk-no-such-service'], all_users: true },
};

export interface WalkOptions {
  url: string;
  admin: Account;
  /** Prefix of every user, cluster and workspace the walk makes (unique per run). */
  prefix: string;
  /** Return at the first problem (to show that a planted fault is caught, quickly). */
  stopAtFirst?: boolean;
}

export interface WalkResult {
  problems: string[];
  checks: number;
  denials: number;
  /** Route id → caller kinds that called it. */
  coverage: Map<string, Set<CallerKind>>;
}

type Expect =
  | 'ok' // 2xx; for an operation: accepted and SUCCEEDED
  | 'allowed' // for an operation: not refused (it may fail for other reasons, e.g. no SSH driver)
  | 'submitted' // an operation accepted (202), then cancelled by the walk
  | 'denied' // 403 FORBIDDEN, at the route or (operations) while running; audited
  | 'refused' // 403 FORBIDDEN at the route itself (admin-only routes and bodies): not even accepted; audited
  | { hidden: string } // answered as if it did not exist (404 with this code), and audited as DENIED
  | { failed: string }; // an operation that runs and fails with this code

interface Probe {
  route: RouteSpec;
  kind: Exclude<CallerKind, 'outsider'>;
  input?: CallInput;
  expect: Expect;
  /** Made just before the call (e.g. a one-time code), instead of `input`. */
  prepare?: (who: Account) => Promise<CallInput>;
  /** More to check in a successful answer: a problem, or undefined. */
  check?: (answer: HttpAnswer, outcome?: OpOutcome) => string | undefined;
}

class Stop extends Error {}

interface Fixture {
  user: Account;
  other: Account;
  removed: Account;
  admin: Account;
  spare: Account;
  ws: string;
  /** The user's clusters: in default, in the private workspace, and one to tear down. */
  pub: string;
  priv: string;
  tmp: string;
  /** The removed member's own cluster in the private workspace. */
  removedCluster: string;
  secretCommand: string;
  reqPub: string;
  reqPriv: string;
  reqRunning: string;
  removedReq: string;
  tokens: string[];
  /** The user's upload (one small file, complete). */
  upload: string;
  /** Managed jobs (ids): the user's in default and in the private workspace, the removed member's there. */
  mjPub: string;
  mjPriv: string;
  mjRemoved: string;
  /** Services (names): the user's in default and in the private workspace, the removed member's there. */
  svcPub: string;
  svcPriv: string;
  svcRemoved: string;
}

function has<T>(items: readonly T[], pred: (x: T) => boolean): boolean {
  return items.some(pred);
}

export async function walkRoutes(options: WalkOptions): Promise<WalkResult> {
  const api = new TeamClient(options.url, options.admin);
  const result: WalkResult = { problems: [], checks: 0, denials: 0, coverage: new Map() };
  const problem = (text: string): void => {
    result.problems.push(text);
    if (options.stopAtFirst) throw new Stop();
  };
  try {
    await walk(api, options, result, problem);
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  }
  return result;
}

async function setup(api: TeamClient, prefix: string): Promise<Fixture> {
  const user = await api.createUser(`${prefix}-alice`);
  const other = await api.createUser(`${prefix}-bob`);
  const removed = await api.createUser(`${prefix}-carol`);
  const spare = await api.createUser(`${prefix}-dave`);
  const ws = `${prefix}-priv`;
  const made = await api.json(api.admin, '/api/v1/workspaces', { method: 'POST', body: { name: ws, private: true, allowed_users: [user.name, removed.name] } });
  if (made.status !== 201) throw new Error(`creating workspace ${ws}: ${made.text}`);
  // A command line that is also the job's name (both are shown to the owner and admins only); it
  // is not a program, so the job fails, which does not matter here.
  const secretCommand = `${prefix}-secret-command`;
  const pub = `${prefix}-pub`;
  const priv = `${prefix}-priv`;
  const tmp = `${prefix}-tmp`;
  const removedCluster = `${prefix}-rem`;
  await api.must(user, 'launch', { cluster: pub, task: { name: secretCommand, run: secretCommand } });
  await api.must(user, 'launch', { cluster: priv, task: { run: secretCommand } }, ws);
  await api.must(user, 'launch', { cluster: tmp, task: { run: 'true' } });
  const removedReq = (await api.must(removed, 'launch', { cluster: removedCluster, task: { run: 'true' } }, ws)).id;
  const managed = async (who: Account, workspace?: string): Promise<string> => {
    const made = await api.must(who, 'jobs_launch', { tasks: [{ task: { run: secretCommand } }] }, workspace);
    return String((made.result as { jobId: number }).jobId);
  };
  const mjPub = await managed(user);
  const mjPriv = await managed(user, ws);
  const mjRemoved = await managed(removed, ws);
  // Services that keep no replica until they have traffic: nothing is provisioned for them.
  const service = async (who: Account, name: string, workspace?: string): Promise<string> => {
    await api.must(who, 'serve_up', { task: walkServiceTask(secretCommand), service_name: name }, workspace);
    return name;
  };
  const svcPub = await service(user, `${prefix}-svc-pub`);
  const svcPriv = await service(user, `${prefix}-svc-priv`, ws);
  const svcRemoved = await service(removed, `${prefix}-svc-rem`, ws);
  const reqPub = (await api.must(user, 'ping', {})).id;
  const reqPriv = (await api.must(user, 'ping', {}, ws)).id;
  const running = await api.call(user, route('ping'), { body: { sleep: 5 } });
  if (running.status !== 202) throw new Error(`a running ping: ${running.text}`);
  const tokens: string[] = [];
  for (let i = 0; i < 4; i++) {
    const t = await api.json<{ record: { id: string } }>(user, '/api/v1/tokens', { method: 'POST', body: { name: `walk-${i}` } });
    if (t.status !== 201) throw new Error(`a token: ${t.text}`);
    tokens.push(t.body.record.id);
  }
  const upload = await api.json<{ id: string; missing: string[] }>(user, '/api/v1/uploads', { method: 'POST', body: smallUpload() });
  if (upload.status !== 200) throw new Error(`an upload: ${upload.text}`);
  // The removed member: allowed in the private workspace when their cluster was made, no longer now.
  const upd = await api.json(api.admin, `/api/v1/workspaces/${ws}`, { method: 'POST', body: { allowed_users: [user.name] } });
  if (upd.status !== 200) throw new Error(`updating workspace ${ws}: ${upd.text}`);
  return {
    user,
    other,
    removed,
    admin: api.admin,
    spare,
    ws,
    pub,
    priv,
    tmp,
    removedCluster,
    secretCommand,
    reqPub,
    reqPriv,
    reqRunning: (running.json() as { requestId: string }).requestId,
    removedReq,
    tokens,
    upload: upload.body.id,
    mjPub,
    mjPriv,
    mjRemoved,
    svcPub,
    svcPriv,
    svcRemoved,
  };
}

/** A service task that scales from zero: no replica (no cluster) until requests come. */
function walkServiceTask(command: string): unknown {
  return { run: command, service: { readiness_probe: '/', replica_policy: { min_replicas: 0, max_replicas: 1, target_qps_per_replica: 1 }, ports: 8080 } };
}

/** A webhook id no webhook has (the walk's server allows no webhook address, so none is ever made). */
const WALK_WEBHOOK = 'wh-00000000';

const CHUNK = Buffer.from('walked\n');
const CHUNK_SHA = createHash('sha256').update(CHUNK).digest('hex');

/** A manifest of one small file (whose one chunk the walk puts). */
function smallUpload(): unknown {
  return { kind: 'file', files: [{ path: 'walked.txt', mode: 0o644, mtimeMs: 1, size: CHUNK.length, chunks: [CHUNK_SHA] }], dirs: [] };
}

function items<T>(answer: HttpAnswer): T[] {
  return (answer.json() as { items: T[] }).items;
}

interface Req {
  id: string;
  body: unknown;
  result?: unknown;
}
interface Cl {
  name: string;
  lastCommand?: string;
}
interface Job {
  id: number;
  command?: string;
  name?: string;
}

/** The probes: who calls which route on what, and what must happen. */
function probes(f: Fixture, api: TeamClient): Probe[] {
  const r = route;
  const P: Probe[] = [];
  const add = (p: Probe): void => void P.push(p);
  const ids = (a: HttpAnswer): string[] => items<Req>(a).map((x) => x.id);

  for (const kind of ['user', 'other', 'removed', 'admin'] as const) {
    add({ route: r('health'), kind, expect: 'ok' });
    add({ route: r('healthReady'), kind, expect: 'ok' });
    add({ route: r('openapi'), kind, expect: 'ok' });
    add({ route: r('listPlugins'), kind, expect: 'ok' });
    add({ route: r('whoami'), kind, expect: 'ok' });
    // The SSH gateway's public host key: what every user's generated SSH config pins.
    add({ route: r('sshHostKey'), kind, expect: 'ok' });
    add({ route: r('listUsers'), kind, expect: 'ok' });
    add({ route: r('check'), kind, input: { body: {} }, expect: 'ok', check: (_a, o) => (kind !== 'admin' && JSON.stringify(o?.record?.result ?? {}).includes('"hosts"') ? 'check gave a non-admin per-host reports' : undefined) });
    add({ route: r('show_gpus'), kind, input: { body: {} }, expect: 'allowed' });
    add({ route: r('ping'), kind, input: { body: {} }, expect: 'ok' });
  }

  // Requests.
  const list = { query: 'all_users=true&limit=1000' };
  add({ route: r('listRequests'), kind: 'user', input: list, expect: 'ok', check: (a) => (ids(a).includes(f.reqPriv) ? undefined : 'the owner does not see their request in a private workspace') });
  add({
    route: r('listRequests'),
    kind: 'other',
    input: list,
    expect: 'ok',
    check: (a) => {
      const got = items<Req>(a);
      if (has(got, (x) => x.id === f.reqPriv || x.id === f.removedReq)) return "another user's request in a private workspace is listed";
      const pub = got.find((x) => x.id === f.reqPub);
      if (!pub) return "another user's request in the default workspace is missing from -u";
      return pub.body === null && pub.result === undefined ? undefined : "another user's request body or result is shown";
    },
  });
  add({ route: r('listRequests'), kind: 'removed', input: list, expect: 'ok', check: (a) => (ids(a).includes(f.reqPriv) ? 'a removed member sees requests of the private workspace' : ids(a).includes(f.removedReq) ? undefined : 'a removed member does not see their own request') });
  add({ route: r('listRequests'), kind: 'admin', input: list, expect: 'ok', check: (a) => (ids(a).includes(f.reqPriv) ? undefined : 'an admin does not see every request') });

  add({ route: r('cancelRequests'), kind: 'other', input: { body: { ids: [f.reqRunning], all: true } }, expect: 'denied' });
  add({ route: r('cancelRequests'), kind: 'other', input: { body: { all: true, all_users: true } }, expect: 'denied' });
  add({ route: r('cancelRequests'), kind: 'removed', input: { body: { ids: [f.reqPub] } }, expect: 'denied' });
  add({ route: r('cancelRequests'), kind: 'user', input: { body: { ids: [f.reqPub] } }, expect: 'ok' });
  add({ route: r('cancelRequests'), kind: 'admin', input: { body: { ids: [f.reqPub] } }, expect: 'ok' });

  for (const [routeId, q] of [
    ['getRequest', ''],
    ['waitRequest', 'timeout=0'],
  ] as const) {
    const whole = (a: HttpAnswer): string | undefined => ((a.json() as Req).body === null ? 'the owner or an admin gets a masked body' : undefined);
    add({ route: r(routeId), kind: 'user', input: { params: { id: f.reqPriv }, query: q }, expect: 'ok', check: whole });
    add({ route: r(routeId), kind: 'other', input: { params: { id: f.reqPriv }, query: q }, expect: 'denied' });
    add({ route: r(routeId), kind: 'other', input: { params: { id: f.reqPub }, query: q }, expect: 'ok', check: (a) => ((a.json() as Req).body === null ? undefined : "another user's request body is shown") });
    add({ route: r(routeId), kind: 'removed', input: { params: { id: f.reqPriv }, query: q }, expect: 'denied' });
    add({ route: r(routeId), kind: 'admin', input: { params: { id: f.reqPriv }, query: q }, expect: 'ok', check: whole });
  }
  add({ route: r('requestLogs'), kind: 'user', input: { params: { id: f.reqPub }, query: 'follow=false' }, expect: 'ok' });
  add({ route: r('requestLogs'), kind: 'other', input: { params: { id: f.reqPub }, query: 'follow=false' }, expect: 'denied' });
  add({ route: r('requestLogs'), kind: 'removed', input: { params: { id: f.reqPriv }, query: 'follow=false' }, expect: 'denied' });
  add({ route: r('requestLogs'), kind: 'admin', input: { params: { id: f.reqPub }, query: 'follow=false' }, expect: 'ok' });

  add({ route: r('serverLogs'), kind: 'admin', input: { query: 'follow=false&tail=1' }, expect: 'ok' });
  add({ route: r('listAudit'), kind: 'admin', input: { query: 'limit=1' }, expect: 'ok' });
  // Allowed for the admin (the spec is refused as input, so nothing is installed).
  add({ route: r('installPlugins'), kind: 'admin', input: { body: { packages: ['../not-a-package'] } }, expect: 'allowed' });
  add({ route: r('exportState'), kind: 'admin', input: { query: 'gzip=false' }, expect: 'ok', check: (a) => (a.text.startsWith('{"format":"sky-state"') && a.text.trimEnd().endsWith('}') ? undefined : 'the export is not a whole sky-state file') });
  add({ route: r('metrics'), kind: 'admin', expect: 'ok', check: (a) => (/^sky_clusters\{.*replica="/m.test(a.text) ? undefined : 'the metrics do not count clusters by replica') });

  // Clusters and jobs.
  const clusters = (a: HttpAnswer): Cl[] => items<Cl>(a);
  const listed = { query: 'all_users=true' };
  add({ route: r('listClusters'), kind: 'user', input: listed, expect: 'ok', check: (a) => (clusters(a).find((c) => c.name === f.pub)?.lastCommand === f.secretCommand && has(clusters(a), (c) => c.name === f.priv) ? undefined : 'the owner does not see their clusters whole') });
  add({
    route: r('listClusters'),
    kind: 'other',
    input: listed,
    expect: 'ok',
    check: (a) => {
      const got = clusters(a);
      if (has(got, (c) => c.name === f.priv || c.name === f.removedCluster)) return 'clusters of a private workspace are listed to a non-member';
      const pub = got.find((c) => c.name === f.pub);
      if (!pub) return "another user's cluster is missing from status -u";
      return pub.lastCommand === undefined && !a.text.includes(f.secretCommand) ? undefined : "another user's command line is shown";
    },
  });
  add({ route: r('listClusters'), kind: 'removed', input: listed, expect: 'ok', check: (a) => (has(clusters(a), (c) => c.name === f.priv) ? 'a removed member sees the private workspace' : has(clusters(a), (c) => c.name === f.removedCluster) ? undefined : 'a removed member does not see their own cluster') });
  add({ route: r('listClusters'), kind: 'admin', input: listed, expect: 'ok', check: (a) => (has(clusters(a), (c) => c.name === f.priv) && clusters(a).find((c) => c.name === f.pub)?.lastCommand !== undefined ? undefined : 'an admin does not see every cluster whole') });
  // The columnar form (sky status -u) under the same rules.
  const columns = (a: HttpAnswer): Cl[] => decodeClusterColumns(a.json() as ClusterColumns) as Cl[];
  const listedColumns = { query: 'all_users=true&format=columns' };
  add({ route: r('listClusters'), kind: 'user', input: listedColumns, expect: 'ok', check: (a) => (columns(a).find((c) => c.name === f.pub)?.lastCommand === f.secretCommand && has(columns(a), (c) => c.name === f.priv) ? undefined : 'columns: the owner does not see their clusters whole') });
  add({
    route: r('listClusters'),
    kind: 'other',
    input: listedColumns,
    expect: 'ok',
    check: (a) => {
      const got = columns(a);
      if (has(got, (c) => c.name === f.priv || c.name === f.removedCluster)) return 'columns: clusters of a private workspace are listed to a non-member';
      const pub = got.find((c) => c.name === f.pub);
      if (!pub) return "columns: another user's cluster is missing from status -u";
      return pub.lastCommand === undefined && !a.text.includes(f.secretCommand) ? undefined : "columns: another user's command line is shown";
    },
  });
  add({ route: r('listClusters'), kind: 'removed', input: listedColumns, expect: 'ok', check: (a) => (has(columns(a), (c) => c.name === f.priv) ? 'columns: a removed member sees the private workspace' : has(columns(a), (c) => c.name === f.removedCluster) ? undefined : 'columns: a removed member does not see their own cluster') });
  add({ route: r('listClusters'), kind: 'admin', input: listedColumns, expect: 'ok', check: (a) => (has(columns(a), (c) => c.name === f.priv) && columns(a).find((c) => c.name === f.pub)?.lastCommand !== undefined ? undefined : 'columns: an admin does not see every cluster whole') });

  // The event stream, its backlog from the start: each caller sees exactly the clusters status -u shows them.
  const feedKeys = (a: HttpAnswer): Set<string> =>
    new Set([...a.text.matchAll(/^event: change\ndata: (.*)$/gm)].map((m) => (JSON.parse(m[1]!) as { key: string }).key));
  const fromStart = { query: 'after=0&all_users=true' };
  add({ route: r('streamEvents'), kind: 'user', input: { query: 'after=0' }, expect: 'ok', check: (a) => (feedKeys(a).has(f.pub) && feedKeys(a).has(f.priv) ? undefined : 'the owner does not see their own clusters in the event stream') });
  add({
    route: r('streamEvents'),
    kind: 'other',
    input: fromStart,
    expect: 'ok',
    check: (a) => {
      const keys = feedKeys(a);
      if (keys.has(f.priv) || keys.has(f.removedCluster)) return 'the event stream shows a non-member clusters of a private workspace';
      if (!keys.has(f.pub)) return "another user's cluster is missing from the event stream with all_users";
      return a.text.includes(f.secretCommand) ? "the event stream shows another user's command line" : undefined;
    },
  });
  add({ route: r('streamEvents'), kind: 'removed', input: fromStart, expect: 'ok', check: (a) => (feedKeys(a).has(f.priv) ? 'the event stream shows a removed member the private workspace' : feedKeys(a).has(f.removedCluster) ? undefined : 'the event stream does not show a removed member their own cluster') });
  add({ route: r('streamEvents'), kind: 'admin', input: fromStart, expect: 'ok', check: (a) => (feedKeys(a).has(f.priv) && a.text.includes(f.secretCommand) ? undefined : 'the event stream does not show an admin every cluster whole') });

  const lastCommand = (want: boolean) => (a: HttpAnswer) => (((a.json() as Cl).lastCommand !== undefined) === want ? undefined : want ? 'the command line is missing' : "another user's command line is shown");
  add({ route: r('getCluster'), kind: 'user', input: { params: { name: f.priv } }, expect: 'ok', check: lastCommand(true) });
  add({ route: r('getCluster'), kind: 'other', input: { params: { name: f.priv } }, expect: 'denied' });
  add({ route: r('getCluster'), kind: 'other', input: { params: { name: f.pub } }, expect: 'ok', check: lastCommand(false) });
  add({ route: r('getCluster'), kind: 'removed', input: { params: { name: f.priv } }, expect: 'denied' });
  add({ route: r('getCluster'), kind: 'removed', input: { params: { name: f.removedCluster } }, expect: 'ok' });
  add({ route: r('getCluster'), kind: 'admin', input: { params: { name: f.priv } }, expect: 'ok', check: lastCommand(true) });

  const jobs = (want: boolean) => (a: HttpAnswer) => {
    const got = items<Job>(a);
    if (got.length === 0) return 'no jobs listed';
    const shown = got.some((j) => j.command !== undefined) || a.text.includes(f.secretCommand);
    return shown === want ? undefined : want ? 'the job command is missing' : "another user's job command is shown";
  };
  add({ route: r('listJobs'), kind: 'user', input: { params: { name: f.pub }, query: 'all_users=true' }, expect: 'ok', check: jobs(true) });
  add({ route: r('listJobs'), kind: 'other', input: { params: { name: f.pub }, query: 'all_users=true' }, expect: 'ok', check: jobs(false) });
  add({ route: r('listJobs'), kind: 'other', input: { params: { name: f.priv }, query: 'all_users=true' }, expect: 'denied' });
  add({ route: r('listJobs'), kind: 'removed', input: { params: { name: f.priv }, query: 'all_users=true' }, expect: 'denied' });
  add({ route: r('listJobs'), kind: 'admin', input: { params: { name: f.pub }, query: 'all_users=true' }, expect: 'ok', check: jobs(true) });

  const job1 = (name: string) => ({ params: { name, job: '1' }, query: 'follow=false' });
  add({ route: r('jobLogs'), kind: 'user', input: job1(f.pub), expect: 'ok' });
  add({ route: r('jobLogs'), kind: 'other', input: job1(f.pub), expect: 'denied' });
  add({ route: r('jobLogs'), kind: 'removed', input: job1(f.priv), expect: 'denied' });
  add({ route: r('jobLogs'), kind: 'admin', input: job1(f.pub), expect: 'ok' });

  // Managed jobs: another user sees them in listings, not their logs; a private workspace's are
  // hidden from non-members, and answered as if they did not exist (audited).
  const mjIds = (a: HttpAnswer): string[] => items<{ id: number }>(a).map((j) => String(j.id));
  const mjList = (want: string[], not: string[]) => (a: HttpAnswer) => {
    const got = mjIds(a);
    const missing = want.filter((id) => !got.includes(id));
    const extra = not.filter((id) => got.includes(id));
    return missing.length > 0 ? `managed jobs ${missing.join(', ')} are missing from jobs queue -u` : extra.length > 0 ? `managed jobs ${extra.join(', ')} of a private workspace are listed` : undefined;
  };
  add({ route: r('listManagedJobs'), kind: 'user', input: listed, expect: 'ok', check: mjList([f.mjPub, f.mjPriv], []) });
  add({ route: r('listManagedJobs'), kind: 'other', input: listed, expect: 'ok', check: mjList([f.mjPub], [f.mjPriv, f.mjRemoved]) });
  add({ route: r('listManagedJobs'), kind: 'removed', input: listed, expect: 'ok', check: mjList([f.mjPub, f.mjRemoved], [f.mjPriv]) });
  add({ route: r('listManagedJobs'), kind: 'admin', input: listed, expect: 'ok', check: mjList([f.mjPub, f.mjPriv, f.mjRemoved], []) });
  const mj = (id: string, query?: string): CallInput => ({ params: { id }, ...(query !== undefined ? { query } : {}) });
  const hiddenMj = { hidden: 'MANAGED_JOB_NOT_FOUND' } as const;
  add({ route: r('getManagedJob'), kind: 'user', input: mj(f.mjPriv), expect: 'ok' });
  const noEvents = (a: HttpAnswer): string | undefined => ((a.json() as { events: unknown[] }).events.length === 0 ? undefined : "another user's controller log is shown");
  add({ route: r('getManagedJob'), kind: 'other', input: mj(f.mjPub), expect: 'ok', check: noEvents });
  add({ route: r('getManagedJob'), kind: 'other', input: mj(f.mjPriv), expect: hiddenMj });
  add({ route: r('getManagedJob'), kind: 'removed', input: mj(f.mjPriv), expect: hiddenMj });
  add({ route: r('getManagedJob'), kind: 'removed', input: mj(f.mjRemoved), expect: 'ok' });
  add({ route: r('getManagedJob'), kind: 'admin', input: mj(f.mjPriv), expect: 'ok' });
  add({ route: r('managedJobLogs'), kind: 'user', input: mj(f.mjPub, 'follow=false'), expect: 'ok' });
  add({ route: r('managedJobLogs'), kind: 'other', input: mj(f.mjPub, 'follow=false'), expect: 'denied' });
  add({ route: r('managedJobLogs'), kind: 'other', input: mj(f.mjPub, 'follow=false&controller=true'), expect: 'denied' });
  add({ route: r('managedJobLogs'), kind: 'other', input: mj(f.mjPriv, 'follow=false'), expect: hiddenMj });
  add({ route: r('managedJobLogs'), kind: 'removed', input: mj(f.mjPriv, 'follow=false'), expect: hiddenMj });
  add({ route: r('managedJobLogs'), kind: 'admin', input: mj(f.mjPriv, 'follow=false'), expect: 'ok' });
  const mjTask = { tasks: [{ task: { run: 'true' } }] };
  add({ route: r('jobs_launch'), kind: 'user', input: { body: mjTask }, expect: 'ok' });
  add({ route: r('jobs_launch'), kind: 'other', input: { body: mjTask, workspace: f.ws }, expect: 'denied' });
  add({ route: r('jobs_launch'), kind: 'removed', input: { body: mjTask, workspace: f.ws }, expect: 'denied' });
  add({ route: r('jobs_launch'), kind: 'admin', input: { body: mjTask, workspace: f.ws }, expect: 'ok' });
  const cancelMj = (id: string): CallInput => ({ body: { job_ids: [Number(id)] } });
  add({ route: r('jobs_cancel'), kind: 'other', input: cancelMj(f.mjPub), expect: 'denied' });
  add({ route: r('jobs_cancel'), kind: 'other', input: cancelMj(f.mjPriv), expect: { failed: 'MANAGED_JOB_NOT_FOUND' } });
  add({ route: r('jobs_cancel'), kind: 'removed', input: cancelMj(f.mjRemoved), expect: 'denied' });
  add({ route: r('jobs_cancel'), kind: 'user', input: cancelMj(f.mjPub), expect: 'ok' });
  add({ route: r('jobs_cancel'), kind: 'admin', input: cancelMj(f.mjRemoved), expect: 'ok' });

  // Services: like managed jobs. Others see them in -u listings, not their logs, and change
  // nothing; a private workspace's are answered as if they did not exist (audited).
  const svcNames = (a: HttpAnswer): string[] => items<{ name: string }>(a).map((x) => x.name);
  const svcList = (want: string[], not: string[]) => (a: HttpAnswer) => {
    const got = svcNames(a);
    const missing = want.filter((n) => !got.includes(n));
    const extra = not.filter((n) => got.includes(n));
    return missing.length > 0 ? `services ${missing.join(', ')} are missing from serve status -u` : extra.length > 0 ? `services ${extra.join(', ')} of a private workspace are listed` : undefined;
  };
  add({ route: r('listServices'), kind: 'user', input: listed, expect: 'ok', check: svcList([f.svcPub, f.svcPriv], []) });
  add({ route: r('listServices'), kind: 'other', input: listed, expect: 'ok', check: svcList([f.svcPub], [f.svcPriv, f.svcRemoved]) });
  add({ route: r('listServices'), kind: 'removed', input: listed, expect: 'ok', check: svcList([f.svcPub, f.svcRemoved], [f.svcPriv]) });
  add({ route: r('listServices'), kind: 'admin', input: listed, expect: 'ok', check: svcList([f.svcPub, f.svcPriv, f.svcRemoved], []) });
  const svc = (name: string, query?: string): CallInput => ({ params: { name }, ...(query !== undefined ? { query } : {}) });
  const hiddenSvc = { hidden: 'SERVICE_NOT_FOUND' } as const;
  add({ route: r('getService'), kind: 'user', input: svc(f.svcPriv), expect: 'ok' });
  add({ route: r('getService'), kind: 'other', input: svc(f.svcPub), expect: 'ok', check: noEvents });
  add({ route: r('getService'), kind: 'other', input: svc(f.svcPriv), expect: hiddenSvc });
  add({ route: r('getService'), kind: 'removed', input: svc(f.svcPriv), expect: hiddenSvc });
  add({ route: r('getService'), kind: 'removed', input: svc(f.svcRemoved), expect: 'ok' });
  add({ route: r('getService'), kind: 'admin', input: svc(f.svcPriv), expect: 'ok' });
  add({ route: r('serviceLogs'), kind: 'user', input: svc(f.svcPub, 'controller=true&follow=false'), expect: 'ok' });
  add({ route: r('serviceLogs'), kind: 'other', input: svc(f.svcPub, 'controller=true&follow=false'), expect: 'denied' });
  add({ route: r('serviceLogs'), kind: 'other', input: svc(f.svcPriv, 'controller=true&follow=false'), expect: hiddenSvc });
  add({ route: r('serviceLogs'), kind: 'removed', input: svc(f.svcPriv, 'load_balancer=true&follow=false'), expect: hiddenSvc });
  add({ route: r('serviceLogs'), kind: 'admin', input: svc(f.svcPriv, 'controller=true&follow=false'), expect: 'ok' });
  const token = (name: string): CallInput => ({ params: { name }, body: { enable: false } });
  add({ route: r('setServiceToken'), kind: 'user', input: token(f.svcPub), expect: 'ok' });
  add({ route: r('setServiceToken'), kind: 'other', input: token(f.svcPub), expect: 'denied' });
  add({ route: r('setServiceToken'), kind: 'other', input: token(f.svcPriv), expect: hiddenSvc });
  add({ route: r('setServiceToken'), kind: 'removed', input: token(f.svcRemoved), expect: 'denied' });
  add({ route: r('setServiceToken'), kind: 'admin', input: token(f.svcRemoved), expect: 'ok' });
  const up = (name: string): unknown => ({ task: walkServiceTask('true'), service_name: name });
  add({ route: r('serve_up'), kind: 'user', input: { body: up(`${f.user.name}-s1`) }, expect: 'ok' });
  add({ route: r('serve_up'), kind: 'other', input: { body: up(`${f.other.name}-s1`), workspace: f.ws }, expect: 'denied' });
  add({ route: r('serve_up'), kind: 'removed', input: { body: up(`${f.removed.name}-s1`), workspace: f.ws }, expect: 'denied' });
  add({ route: r('serve_up'), kind: 'admin', input: { body: up(`${f.admin.name}-s1`), workspace: f.ws }, expect: 'ok' });
  const update = (name: string): CallInput => ({ body: { service_name: name, task: walkServiceTask('true') } });
  add({ route: r('serve_update'), kind: 'other', input: update(f.svcPub), expect: 'denied' });
  add({ route: r('serve_update'), kind: 'other', input: update(f.svcPriv), expect: { failed: 'SERVICE_NOT_FOUND' } });
  add({ route: r('serve_update'), kind: 'removed', input: update(f.svcRemoved), expect: 'denied' });
  add({ route: r('serve_update'), kind: 'user', input: update(f.svcPub), expect: 'ok' });
  add({ route: r('serve_update'), kind: 'admin', input: update(f.svcRemoved), expect: 'ok' });
  const down = (name: string): CallInput => ({ body: { service_names: [name] } });
  const notFound = (name: string) => (_a: HttpAnswer, o?: OpOutcome): string | undefined =>
    JSON.stringify(o?.record?.result) === JSON.stringify({ down: [], notFound: [name] }) ? undefined : `serve down of a hidden service did not answer "not found": ${JSON.stringify(o?.record)}`;
  add({ route: r('serve_down'), kind: 'other', input: down(f.svcPub), expect: 'denied' });
  add({ route: r('serve_down'), kind: 'other', input: down(f.svcPriv), expect: 'ok', check: notFound(f.svcPriv) });
  add({ route: r('serve_down'), kind: 'removed', input: down(f.svcRemoved), expect: 'denied' });
  add({ route: r('serve_down'), kind: 'user', input: down(`${f.user.name}-s1`), expect: 'ok' });
  add({ route: r('serve_down'), kind: 'admin', input: down(f.svcRemoved), expect: 'ok' });

  // Usage: everyone sees their own; every user's is for admins (refused and audited otherwise).
  const usageOf = (a: HttpAnswer): Array<{ userName: string; nodeHours: number }> => (a.json() as { rows: Array<{ userName: string; nodeHours: number }> }).rows;
  const onlyOwn = (name: string) => (a: HttpAnswer): string | undefined => (usageOf(a).every((row) => row.userName === name) ? undefined : `another user's usage is in ${name}'s report`);
  const window = { query: 'since=0' };
  add({ route: r('getUsage'), kind: 'user', input: window, expect: 'ok', check: (a) => onlyOwn(f.user.name)(a) ?? (usageOf(a).some((row) => row.nodeHours > 0) ? undefined : 'the owner of UP clusters has no node-hours') });
  add({ route: r('getUsage'), kind: 'other', input: window, expect: 'ok', check: onlyOwn(f.other.name) });
  add({ route: r('getUsage'), kind: 'other', input: { query: 'since=0&all_users=true' }, expect: 'denied' });
  add({ route: r('getUsage'), kind: 'removed', input: { query: 'since=0&all_users=true' }, expect: 'denied' });
  add({ route: r('getUsage'), kind: 'admin', input: { query: 'since=0&all_users=true' }, expect: 'ok', check: (a) => (usageOf(a).some((row) => row.userName === f.user.name) ? undefined : "the admin does not see every user's usage") });

  // Users and tokens.
  add({ route: r('createUser'), kind: 'admin', input: { body: { name: `${f.spare.name}-2`, password: 'spare-password-2' } }, expect: 'ok' });
  add({ route: r('importUsers'), kind: 'admin', input: { body: { users: [{ name: `${f.spare.name}-3`, password: 'spare-password-3' }] } }, expect: 'ok' });
  add({ route: r('setRole'), kind: 'admin', input: { params: { name: f.spare.name }, body: { role: 'user' } }, expect: 'ok' });
  add({ route: r('deleteUser'), kind: 'admin', input: { params: { name: `${f.spare.name}-3` } }, expect: 'ok' });
  add({ route: r('resetPassword'), kind: 'user', input: { params: { name: f.user.name }, body: { password: f.user.password, current_password: f.user.password } }, expect: 'ok' });
  add({ route: r('resetPassword'), kind: 'other', input: { params: { name: f.user.name }, body: { password: 'taken-over-1' } }, expect: 'denied' });
  add({ route: r('resetPassword'), kind: 'removed', input: { params: { name: f.user.name }, body: { password: 'taken-over-1' } }, expect: 'denied' });
  add({ route: r('resetPassword'), kind: 'admin', input: { params: { name: f.user.name }, body: { password: f.user.password } }, expect: 'ok' });
  const theirs = { query: `user=${f.user.name}` };
  add({ route: r('listTokens'), kind: 'user', input: theirs, expect: 'ok' });
  add({ route: r('listTokens'), kind: 'other', input: theirs, expect: 'denied' });
  add({ route: r('listTokens'), kind: 'removed', input: theirs, expect: 'denied' });
  add({ route: r('listTokens'), kind: 'admin', input: theirs, expect: 'ok' });
  const forUser = { body: { name: 'walk-made', user: f.user.name } };
  add({ route: r('createToken'), kind: 'user', input: forUser, expect: 'ok' });
  add({ route: r('createToken'), kind: 'other', input: forUser, expect: 'denied' });
  add({ route: r('createToken'), kind: 'removed', input: forUser, expect: 'denied' });
  add({ route: r('createToken'), kind: 'admin', input: forUser, expect: 'ok' });
  const [t0, t1, t2, t3] = f.tokens as [string, string, string, string];
  for (const id of ['revokeToken', 'rotateToken'] as const) {
    add({ route: r(id), kind: 'other', input: { params: { id: t0 } }, expect: 'denied' });
    add({ route: r(id), kind: 'removed', input: { params: { id: t1 } }, expect: 'denied' });
  }
  add({ route: r('revokeToken'), kind: 'user', input: { params: { id: t0 } }, expect: 'ok' });
  add({ route: r('revokeToken'), kind: 'admin', input: { params: { id: t1 } }, expect: 'ok' });
  add({ route: r('rotateToken'), kind: 'user', input: { params: { id: t2 } }, expect: 'ok' });
  add({ route: r('rotateToken'), kind: 'admin', input: { params: { id: t3 } }, expect: 'ok' });

  // Uploads: everyone stores their own; another user's upload is answered as if it did not exist.
  for (const kind of ['user', 'other', 'removed', 'admin'] as const) {
    add({ route: r('createUpload'), kind, input: { body: smallUpload() }, expect: 'ok' });
    add({ route: r('putChunk'), kind, input: { params: { hash: CHUNK_SHA }, raw: { data: CHUNK, contentType: 'application/octet-stream' } }, expect: 'ok' });
  }
  add({ route: r('getUpload'), kind: 'user', input: { params: { id: f.upload } }, expect: 'ok' });
  for (const kind of ['other', 'removed', 'admin'] as const) add({ route: r('getUpload'), kind, input: { params: { id: f.upload } }, expect: { hidden: 'UPLOAD_NOT_FOUND' } });

  // Browser sessions: anyone may make a login link for themselves, open it (the one-time code is
  // the credential) and close their session.
  for (const kind of ['user', 'other', 'removed', 'admin'] as const) {
    add({ route: r('createLoginLink'), kind, expect: 'ok' });
    add({
      route: r('openSession'),
      kind,
      expect: 'ok',
      prepare: async (who) => {
        const link = await api.json<{ path: string }>(who, '/api/v1/auth/login-links', { method: 'POST', body: {} });
        return { query: `code=${encodeURIComponent(new URL(link.body.path, 'http://x/').searchParams.get('code') ?? '')}` };
      },
    });
    add({ route: r('closeSession'), kind, expect: 'ok' });
    // The login page: how to sign in (public), and a password login as oneself.
    add({ route: r('authMethods'), kind, expect: 'ok', check: (a) => ((a.json() as { passwordLogin?: boolean }).passwordLogin === true ? undefined : 'a basic-auth server does not offer its password login') });
    add({
      route: r('passwordSession'),
      kind,
      expect: 'ok',
      prepare: async (who) => ({ body: { name: who.name, password: who.password } }),
      check: (a) => (String(a.headers['set-cookie'] ?? '').includes('sky_session=sks_') ? undefined : 'a password login set no session cookie'),
    });
  }

  // Workspaces.
  const wsNames = (a: HttpAnswer): string[] => items<{ name: string }>(a).map((w) => w.name);
  add({ route: r('listWorkspaces'), kind: 'user', expect: 'ok', check: (a) => (wsNames(a).includes(f.ws) ? undefined : 'a member does not see their private workspace') });
  add({ route: r('listWorkspaces'), kind: 'other', expect: 'ok', check: (a) => (wsNames(a).includes(f.ws) ? 'a private workspace is listed to a non-member' : undefined) });
  add({ route: r('listWorkspaces'), kind: 'removed', expect: 'ok', check: (a) => (wsNames(a).includes(f.ws) ? 'a private workspace is listed to a removed member' : undefined) });
  add({ route: r('listWorkspaces'), kind: 'admin', expect: 'ok', check: (a) => (wsNames(a).includes(f.ws) ? undefined : 'an admin does not see every workspace') });
  const tmpWs = `${f.ws}-tmp`;
  add({ route: r('createWorkspace'), kind: 'admin', input: { body: { name: tmpWs } }, expect: 'ok' });
  add({ route: r('updateWorkspace'), kind: 'admin', input: { params: { name: tmpWs }, body: { private: true } }, expect: 'ok' });
  add({ route: r('deleteWorkspace'), kind: 'admin', input: { params: { name: tmpWs } }, expect: 'ok' });
  // Webhooks (admins only; others are refused by the metadata probes). This server allows no webhook address.
  add({ route: r('listWebhooks'), kind: 'admin', input: { params: { name: f.ws } }, expect: 'ok', check: (a) => (items(a).length === 0 ? undefined : 'a workspace without webhooks lists some') });
  add({ route: r('createWebhook'), kind: 'admin', input: { params: { name: f.ws }, body: { url: 'http://127.0.0.1:9/hook' } }, expect: 'allowed' });
  add({ route: r('deleteWebhook'), kind: 'admin', input: { params: { name: f.ws, id: WALK_WEBHOOK } }, expect: 'allowed' });
  add({ route: r('webhookDeliveries'), kind: 'admin', input: { params: { name: f.ws, id: WALK_WEBHOOK } }, expect: 'allowed' });

  // Operations on clusters: the other user is refused; the removed member even on their own cluster.
  const task = { task: { run: 'true' } };
  add({ route: r('launch'), kind: 'user', input: { body: { cluster: f.pub, ...task } }, expect: 'ok' });
  add({ route: r('launch'), kind: 'other', input: { body: { cluster: `${f.pub}-b`, ...task }, workspace: f.ws }, expect: 'denied' });
  add({ route: r('launch'), kind: 'other', input: { body: { cluster: f.pub, ...task } }, expect: { failed: 'CLUSTER_NAME_TAKEN' } });
  add({ route: r('launch'), kind: 'removed', input: { body: { cluster: f.removedCluster, ...task } }, expect: 'denied' });
  add({ route: r('launch'), kind: 'admin', input: { body: { cluster: `${f.priv}-admin`, ...task }, workspace: f.ws }, expect: 'ok' });
  for (const kind of ['user', 'admin'] as const) add({ route: r('exec'), kind, input: { body: { cluster: f.pub, ...task } }, expect: 'ok' });
  add({ route: r('exec'), kind: 'other', input: { body: { cluster: f.pub, ...task } }, expect: 'denied' });
  add({ route: r('exec'), kind: 'removed', input: { body: { cluster: f.removedCluster, ...task } }, expect: 'denied' });
  add({ route: r('autostop'), kind: 'user', input: { body: { cluster: f.pub, idle_minutes: 600 } }, expect: 'ok' });
  add({ route: r('autostop'), kind: 'other', input: { body: { cluster: f.pub, cancel: true } }, expect: 'denied' });
  add({ route: r('autostop'), kind: 'removed', input: { body: { cluster: f.removedCluster, idle_minutes: 600 } }, expect: 'denied' });
  add({ route: r('autostop'), kind: 'admin', input: { body: { cluster: f.pub, cancel: true } }, expect: 'ok' });
  add({ route: r('cancel'), kind: 'user', input: { body: { cluster: f.pub, job_ids: [1] } }, expect: 'ok' });
  add({ route: r('cancel'), kind: 'other', input: { body: { cluster: f.pub, job_ids: [1] } }, expect: 'denied' });
  add({ route: r('cancel'), kind: 'removed', input: { body: { cluster: f.removedCluster, all: true } }, expect: 'denied' });
  add({ route: r('cancel'), kind: 'admin', input: { body: { cluster: f.pub, job_ids: [1] } }, expect: 'ok' });
  const refreshed = (name: string, want: boolean) => (_a: HttpAnswer, o?: OpOutcome) => {
    const got = (o?.record?.result as { refreshed?: string[] } | undefined)?.refreshed ?? [];
    return got.includes(name) === want ? undefined : want ? `${name} was not refreshed` : `a cluster the caller may not change (${name}) was refreshed`;
  };
  add({ route: r('refresh'), kind: 'user', input: { body: { clusters: [f.pub] } }, expect: 'ok', check: refreshed(f.pub, true) });
  add({ route: r('refresh'), kind: 'other', input: { body: { clusters: [f.pub] } }, expect: 'ok', check: refreshed(f.pub, false) });
  add({ route: r('refresh'), kind: 'removed', input: { body: { clusters: [f.removedCluster] } }, expect: 'ok', check: refreshed(f.removedCluster, false) });
  for (const kind of ['other', 'removed'] as const) {
    add({ route: r('stop'), kind, input: { body: { cluster: kind === 'other' ? f.pub : f.removedCluster } }, expect: 'denied' });
    add({ route: r('start'), kind, input: { body: { cluster: kind === 'other' ? f.pub : f.removedCluster } }, expect: 'denied' });
    add({ route: r('down'), kind, input: { body: { cluster: kind === 'other' ? f.pub : f.removedCluster } }, expect: 'denied' });
  }
  add({ route: r('stop'), kind: 'user', input: { body: { cluster: f.pub } }, expect: 'ok' });
  add({ route: r('start'), kind: 'user', input: { body: { cluster: f.pub } }, expect: 'ok' });
  add({ route: r('stop'), kind: 'admin', input: { body: { cluster: f.pub } }, expect: 'ok' });
  add({ route: r('start'), kind: 'admin', input: { body: { cluster: f.pub } }, expect: 'ok' });
  add({ route: r('down'), kind: 'user', input: { body: { cluster: f.tmp } }, expect: 'ok' });
  add({ route: r('down'), kind: 'admin', input: { body: { cluster: f.removedCluster } }, expect: 'ok' });
  return P;
}

/** Probes from the route table's metadata: admin routes, admin-only bodies, and the admin's call of each. */
function metadataProbes(f: Fixture): { probes: Probe[]; problems: string[] } {
  const out: Probe[] = [];
  const problems: string[] = [];
  for (const spec of ROUTE_LIST) {
    if (spec.access === 'admin') {
      for (const kind of ['user', 'other', 'removed'] as const) out.push({ route: spec, kind, input: adminRouteInput(spec, f), expect: 'refused' });
      if (spec.operation !== undefined) out.push({ route: spec, kind: 'admin', input: { body: {} }, expect: 'allowed' });
    }
    if (spec.operation !== undefined && spec.access === 'user') {
      const op: OperationSpec = OPERATIONS[spec.operation];
      if (op.adminWhen === undefined) continue;
      const body = ADMIN_ONLY_BODIES[spec.operation];
      if (body === undefined || adminReason(spec, body) === undefined) {
        problems.push(`operation ${spec.operation} has admin-only bodies (adminWhen) but the walk has no body the metadata marks admin-only`);
        continue;
      }
      for (const kind of ['user', 'other', 'removed'] as const) out.push({ route: spec, kind, input: { body }, expect: 'refused' });
      // The admin's ping is long (only submitted); their cancel of a job nobody has is allowed and finds nothing.
      out.push({ route: spec, kind: 'admin', input: { body }, expect: spec.operation === 'ping' ? 'submitted' : spec.operation === 'jobs_cancel' ? 'allowed' : 'ok' });
    }
  }
  return { probes: out, problems };
}

/** Parameters that name real things, so an admin route is refused for who calls it, not for a bad id. */
function adminRouteInput(spec: RouteSpec, f: Fixture): CallInput {
  const params: Record<string, string> = {};
  for (const name of [...spec.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!)) params[name] = name === 'name' ? (spec.path.includes('/workspaces/') ? f.ws : f.user.name) : spec.path.includes('/webhooks/') ? WALK_WEBHOOK : f.reqPub;
  return { params, body: {} };
}

async function walk(api: TeamClient, options: WalkOptions, result: WalkResult, problem: (text: string) => void): Promise<void> {
  const cover = (id: string, kind: CallerKind): void => {
    const set = result.coverage.get(id) ?? new Set<CallerKind>();
    set.add(kind);
    result.coverage.set(id, set);
  };

  // Outsiders first: no credentials, then credentials of nobody (a new name each time, so the
  // login limiter, which holds a name after a few failures, never slows the walk down).
  let strangers = 0;
  for (const spec of ROUTE_LIST) {
    const params = Object.fromEntries([...spec.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => [m[1]!, m[1] === 'job' ? '1' : 'x1']));
    const nobody = { name: `${options.prefix}-mallory${(strangers += 1)}`, password: 'not-a-password' };
    for (const who of [undefined, nobody]) {
      const answer = await api.call(who, spec, { params, body: {} });
      result.checks += 1;
      const code = codeOf(answer);
      if (spec.access === 'public') {
        // Public: no credentials needed (the answer may still refuse bad input); wrong ones may be refused as such.
        if (answer.status >= 500 || (who === undefined && answer.status === 401)) problem(`outsider: ${spec.method.toUpperCase()} ${spec.path} (public) answered ${answer.status}`);
      } else if (!(answer.status === 401 && code === 'UNAUTHENTICATED') && !(who !== undefined && answer.status === 429 && code === 'TOO_MANY_ATTEMPTS')) {
        problem(`outsider (${who ? 'wrong credentials' : 'no credentials'}): ${spec.method.toUpperCase()} ${spec.path} answered ${answer.status} ${code ?? answer.text.slice(0, 100)}, want 401 UNAUTHENTICATED`);
      }
    }
    cover(spec.id, 'outsider');
  }

  const f = await setup(api, options.prefix);
  const meta = metadataProbes(f);
  for (const p of meta.problems) problem(p);
  const who: Record<Exclude<CallerKind, 'outsider'>, Account> = { user: f.user, other: f.other, removed: f.removed, admin: f.admin };
  // The table's probes, then those from the metadata; destructive ones (down, deletes) come last in the table.
  for (const p of [...meta.probes, ...probes(f, api)]) {
    const account = who[p.kind];
    const label = `${p.kind} (${account.name}): ${p.route.operation ?? `${p.route.method.toUpperCase()} ${p.route.path}`} ${JSON.stringify(p.input ?? {})}`;
    const since = Date.now() - 5;
    if (p.prepare) p.input = await p.prepare(account);
    let answer: HttpAnswer;
    let outcome: OpOutcome | undefined;
    if (p.expect === 'submitted' || p.expect === 'refused') {
      // Not waited for: an accepted long ping would hold the walk.
      answer = await api.call(account, p.route, p.input ?? {});
      if (answer.status === 202) await api.json(account, '/api/v1/requests/cancel', { method: 'POST', body: { ids: [(answer.json() as { requestId: string }).requestId] } });
    } else if (p.route.operation !== undefined) {
      outcome = await api.op(account, p.route.operation, p.input?.body ?? {}, p.input?.workspace);
      answer = outcome.submit;
    } else {
      answer = await api.call(account, p.route, p.input ?? {});
    }
    result.checks += 1;
    cover(p.route.id, p.kind);
    const failure = outcome?.record?.error?.code;
    const refused = (answer.status === 403 && codeOf(answer) === 'FORBIDDEN') || failure === 'FORBIDDEN';
    const got = `${answer.status} ${codeOf(answer) ?? ''}${outcome?.record ? ` → ${outcome.record.status} ${failure ?? ''}` : ''}`.trim();
    if (p.expect === 'denied' || p.expect === 'refused') {
      if (!refused) {
        problem(`${label}: must be refused with 403 FORBIDDEN, got ${got}`);
        continue;
      }
      result.denials += 1;
      const entries = await api.auditOf(account.name, since);
      if (!entries.some((e) => e.result === 'DENIED')) problem(`${label}: refused but not in the audit log`);
      continue;
    }
    if (refused) {
      problem(`${label}: refused (${got}), must be allowed`);
      continue;
    }
    if (typeof p.expect === 'object' && 'hidden' in p.expect) {
      if (answer.status !== 404 || codeOf(answer) !== p.expect.hidden) {
        problem(`${label}: must be answered 404 ${p.expect.hidden} (as if it did not exist), got ${got}`);
        continue;
      }
      result.denials += 1;
      if (!(await api.auditOf(account.name, since)).some((e) => e.result === 'DENIED')) problem(`${label}: refused but not in the audit log`);
    } else if (typeof p.expect === 'object') {
      if (failure !== p.expect.failed) problem(`${label}: want it to fail with ${p.expect.failed}, got ${got}`);
    } else if (p.expect === 'submitted') {
      if (answer.status !== 202) problem(`${label}: want 202, got ${got}`);
    } else if (p.expect === 'ok') {
      const ok = p.route.operation !== undefined ? outcome?.record?.status === 'SUCCEEDED' : (answer.status >= 200 && answer.status < 300) || answer.status === p.route.success.status;
      if (!ok) problem(`${label}: want success, got ${got} ${(outcome?.record?.error?.message ?? answer.text).slice(0, 200)}`);
      else {
        const wrong = p.check?.(answer, outcome);
        if (wrong !== undefined) problem(`${label}: ${wrong}`);
      }
    } else if (answer.status >= 500) {
      problem(`${label}: answered ${got}`);
    }
  }

  // Nothing the refused callers tried took effect.
  const running = await api.json<{ status: string }>(f.user, `/api/v1/requests/${f.reqRunning}`);
  if (running.body.status === 'CANCELLED') problem("another user's cancel (ids + all) cancelled the request");
  const pw = await api.json(f.user, '/api/v1/users/me');
  if (pw.status !== 200) problem(`the user can no longer log in after others tried to reset their password: ${pw.status}`);

  // Every route was called by every kind of caller.
  for (const spec of ROUTE_LIST) {
    const kinds = result.coverage.get(spec.id) ?? new Set();
    const missing = CALLER_KINDS.filter((k) => !kinds.has(k));
    if (missing.length > 0) problem(`route ${spec.id} was not walked as ${missing.join(', ')}`);
  }
}
