import { assertResolved, parseTask, ROUTE_LIST, type RouteSpec } from '@sky/protocol';
import { codeOf, route, TeamClient, type Account, type OpOutcome } from './authz-client.js';
import { Rng } from './fuzz.js';

/**
 * An authorization fuzzer. Several users (and an admin) act on each other's clusters, jobs,
 * requests, tokens and workspaces with valid, randomly generated bodies (real tasks that launch
 * on the local driver), in a seeded random order; an oracle that keeps a model of who owns what,
 * which workspace each user may use and who is an admin says, for every call, whether it must be
 * refused (403 FORBIDDEN, audited) or allowed, and what a listing may show (no clusters or
 * requests of private workspaces one is not in, no others' command lines or request bodies).
 * Workspace memberships and roles change while it runs, so the oracle's answers change too.
 *
 * Every move is tried in every relation to its target (own, another user's, an admin's, in a
 * workspace the actor was removed from, an admin-only body...) in a seeded shuffle, then random
 * moves fill the rest of the budget; so a rule missing from the daemon is found with any seed,
 * and the seed decides the bodies, the order and the rest. Returns what it found wrong.
 */

export interface FuzzOptions {
  url: string;
  admin: Account;
  prefix: string;
  seed: number;
  /** Moves after the full rotation of moves and relations. */
  extraSteps: number;
  stopAtFirst?: boolean;
}

export interface FuzzResult {
  seed: number;
  problems: string[];
  steps: number;
  denials: number;
  /** Launch bodies: generated, valid for the task parser, and run to SUCCEEDED. */
  tasks: { generated: number; valid: number; succeeded: number };
  /** Move → how often it ran. */
  moves: Record<string, number>;
}

type Verdict = 'deny' | 'allow';

interface MUser {
  acct: Account;
  id: string;
  admin: boolean;
}
interface MWorkspace {
  name: string;
  private: boolean;
  allowed: Set<string>;
}
interface MJob {
  id: number;
  user: string;
}
interface MCluster {
  name: string;
  owner: string;
  workspace: string;
  status: 'UP' | 'STOPPED';
  jobs: MJob[];
  hasCommand: boolean;
}
interface MRequest {
  id: string;
  user: string;
  workspace: string;
}
interface MToken {
  id: string;
  user: string;
}

class Stop extends Error {}

/** What the daemon must decide, from a model of the team kept alongside it. */
class Model {
  users = new Map<string, MUser>();
  workspaces = new Map<string, MWorkspace>();
  clusters = new Map<string, MCluster>();
  requests = new Map<string, MRequest>();
  tokens = new Map<string, MToken>();

  isAdmin(u: string): boolean {
    return this.users.get(u)?.admin === true;
  }
  canUse(u: string, ws: string): boolean {
    const w = this.workspaces.get(ws);
    return this.isAdmin(u) || w === undefined || !w.private || w.allowed.has(u);
  }
  canOperate(u: string, c: MCluster): boolean {
    return this.isAdmin(u) || (c.owner === u && this.canUse(u, c.workspace));
  }
  canSeeCluster(u: string, c: MCluster): boolean {
    return c.owner === u || this.canUse(u, c.workspace);
  }
  canReadJob(u: string, c: MCluster, j: MJob): boolean {
    return this.isAdmin(u) || j.user === u || c.owner === u;
  }
  canSeeRequest(u: string, r: MRequest): boolean {
    return r.user === u || this.canUse(u, r.workspace);
  }
  canReadRequest(u: string, r: MRequest): boolean {
    return this.isAdmin(u) || r.user === u;
  }
  plainUsers(): string[] {
    return [...this.users.values()].filter((x) => !x.admin).map((x) => x.acct.name);
  }
}

/** At most this many clusters at once (each at most 2 nodes of at most 1 CPU and 1 GB), so the local driver (8 CPUs, 16 GB) always fits one more. */
const MAX_CLUSTERS = 4;

export async function fuzzAuthorization(options: FuzzOptions): Promise<FuzzResult> {
  const fuzz = new AuthzFuzz(options);
  try {
    await fuzz.run();
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  }
  return fuzz.result;
}

class AuthzFuzz {
  readonly result: FuzzResult;
  private readonly api: TeamClient;
  private readonly rng: Rng;
  private readonly m = new Model();
  private serial = 0;

  constructor(private readonly o: FuzzOptions) {
    this.api = new TeamClient(o.url, o.admin);
    this.rng = new Rng(o.seed);
    this.result = { seed: o.seed, problems: [], steps: 0, denials: 0, tasks: { generated: 0, valid: 0, succeeded: 0 }, moves: {} };
  }

  private problem(text: string): void {
    this.result.problems.push(`step ${this.result.steps}: ${text}`);
    if (this.o.stopAtFirst) throw new Stop();
  }

  private acct(u: string): Account {
    return this.m.users.get(u)!.acct;
  }

  private fresh(what: string): string {
    this.serial += 1;
    return `${this.o.prefix}-${what}${this.serial}`;
  }

  // ------------------------------------------------------------------ setup

  private async setup(): Promise<void> {
    const p = this.o.prefix;
    this.m.users.set(this.o.admin.name, { acct: this.o.admin, id: '', admin: true });
    for (let i = 0; i < 4; i++) {
      const acct = await this.api.createUser(`${p}-u${i}`);
      this.m.users.set(acct.name, { acct, id: '', admin: false });
    }
    const ids = await this.api.json<{ items: Array<{ id: string; name: string }> }>(this.o.admin, '/api/v1/users');
    for (const u of ids.body.items) {
      const known = this.m.users.get(u.name);
      if (known) known.id = u.id;
    }
    this.m.workspaces.set('default', { name: 'default', private: false, allowed: new Set() });
    const [u0, u1, u2] = this.m.plainUsers() as [string, string, string];
    for (const [name, allowed] of [
      [`${p}-wa`, [u0, u1]],
      [`${p}-wb`, [u2]],
    ] as const) {
      const res = await this.api.json(this.o.admin, '/api/v1/workspaces', { method: 'POST', body: { name, private: true, allowed_users: allowed } });
      if (res.status !== 201) throw new Error(`workspace ${name}: ${res.text}`);
      this.m.workspaces.set(name, { name, private: true, allowed: new Set(allowed) });
    }
  }

  // ------------------------------------------------------------------ generators

  /** A real task: valid for the task parser, small enough for the local driver. */
  private task(): Record<string, unknown> {
    const r = this.rng;
    const word = r.string('abcdefghijklmnopqrstuvwxyz', 3, 8);
    const t: Record<string, unknown> = {
      run: r.pick([`echo ${word}`, 'true', `echo "rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES" ${word}`, `printf '%s\\n' ${word}\necho done`, 'sleep 0.1 && true']),
    };
    if (r.chance(0.5)) t.name = `${word}-${r.int(1, 99)}`;
    if (r.chance(0.3)) t.setup = r.pick(['true', `echo setup ${word}`]);
    if (r.chance(0.4)) t.envs = { FUZZ_WORD: word, FUZZ_N: String(r.int(0, 999)) };
    if (r.chance(0.2)) t.secrets = { FUZZ_SECRET: `s3cr3t-${word}` };
    if (r.chance(0.3)) t.num_nodes = r.int(1, 2);
    const res: Record<string, unknown> = {};
    if (r.chance(0.5)) res.cpus = r.pick(['0.5', '1', '1+', 1, 0.25]);
    if (r.chance(0.5)) res.memory = r.pick(['0.5', '1', '1+', 1, '512MB']);
    if (r.chance(0.3)) res.infra = 'local';
    if (Object.keys(res).length > 0) t.resources = res;
    this.result.tasks.generated += 1;
    try {
      assertResolved(parseTask(t, 'task'), 'task');
      this.result.tasks.valid += 1;
    } catch (err) {
      this.problem(`the generator made an invalid task ${JSON.stringify(t)}: ${(err as Error).message}`);
    }
    return t;
  }

  private anyUser(): string {
    return this.rng.pick([...this.m.users.keys()]);
  }

  private plain(): string {
    return this.rng.pick(this.m.plainUsers());
  }

  /** The user of a relation: an admin, or a plain user. */
  private actorFor(relation: string): string {
    return relation === 'admin' ? this.o.admin.name : this.plain();
  }

  // ------------------------------------------------------------------ calls and verdicts

  /** Compare what the daemon did with the oracle's verdict; check the audit log for refusals. */
  private async judge(what: string, actor: string, verdict: Verdict, refused: boolean, since: number, detail: string): Promise<void> {
    if (verdict === 'deny' && !refused) this.problem(`${actor}: ${what} must be refused, got ${detail}`);
    else if (verdict === 'allow' && refused) this.problem(`${actor}: ${what} must be allowed, got ${detail}`);
    else if (refused) {
      this.result.denials += 1;
      const entries = await this.api.auditOf(actor, since);
      if (!entries.some((e) => e.result === 'DENIED')) this.problem(`${actor}: ${what} was refused but not audited`);
    }
  }

  private async op(actor: string, name: string, body: unknown, workspace: string, verdict: Verdict): Promise<OpOutcome> {
    const since = Date.now() - 5;
    const out = await this.api.op(this.acct(actor), name, body, workspace);
    const refused = (out.submit.status === 403 && codeOf(out.submit) === 'FORBIDDEN') || out.record?.error?.code === 'FORBIDDEN';
    if (out.submit.status >= 500) this.problem(`${actor}: ${name} answered ${out.submit.status} ${out.submit.text.slice(0, 200)}`);
    const detail = `${out.submit.status}${out.record ? ` → ${out.record.status} ${out.record.error?.code ?? ''}` : ` ${codeOf(out.submit) ?? ''}`} for ${JSON.stringify(body).slice(0, 300)} in ${workspace}`;
    await this.judge(`${name}`, actor, verdict, refused, since, detail);
    if (out.record) this.m.requests.set(out.record.id, { id: out.record.id, user: actor, workspace });
    return out;
  }

  private async get(actor: string, spec: RouteSpec, params: Record<string, string>, query: string, verdict: Verdict): Promise<{ status: number; text: string; json: () => unknown } | undefined> {
    const since = Date.now() - 5;
    const answer = await this.api.call(this.acct(actor), spec, { params, query });
    if (answer.status >= 500) this.problem(`${actor}: ${spec.id} answered ${answer.status}`);
    const refused = answer.status === 403 && codeOf(answer) === 'FORBIDDEN';
    await this.judge(`${spec.method.toUpperCase()} ${spec.path} ${JSON.stringify(params)}?${query}`, actor, verdict, refused, since, `${answer.status} ${codeOf(answer) ?? ''}`);
    return answer.status >= 200 && answer.status < 300 ? answer : undefined;
  }

  // ------------------------------------------------------------------ targets

  private clusterWhere(pred: (c: MCluster) => boolean): MCluster | undefined {
    const found = [...this.m.clusters.values()].filter(pred);
    return found.length === 0 ? undefined : this.rng.pick(found);
  }

  /** A cluster in relation to the actor, launched (or arranged) when none is at hand. */
  private async clusterFor(actor: string, relation: string): Promise<MCluster | undefined> {
    const m = this.m;
    switch (relation) {
      case 'own':
        return this.clusterWhere((c) => c.owner === actor && m.canUse(actor, c.workspace)) ?? (await this.launchFor(actor, 'default'));
      case 'other': {
        const found = this.clusterWhere((c) => c.owner !== actor && m.canUse(actor, c.workspace) && !m.isAdmin(c.owner));
        if (found) return found;
        const owner = this.rng.pick(m.plainUsers().filter((u) => u !== actor));
        return this.launchFor(owner, 'default');
      }
      case 'hidden': {
        // Another user's cluster in a private workspace the actor may not use.
        const found = this.clusterWhere((c) => c.owner !== actor && !m.canUse(actor, c.workspace));
        if (found) return found;
        const ws = [...m.workspaces.values()].find((w) => w.private && !m.canUse(actor, w.name) && [...w.allowed].some((u) => u !== actor && !m.isAdmin(u)));
        if (!ws) return undefined;
        return this.launchFor(this.rng.pick([...ws.allowed].filter((u) => u !== actor)), ws.name);
      }
      case 'removed': {
        // The actor's own cluster in a private workspace they were removed from.
        const found = this.clusterWhere((c) => c.owner === actor && !m.canUse(actor, c.workspace));
        if (found) return found;
        const ws = [...m.workspaces.values()].find((w) => w.private);
        if (!ws) return undefined;
        await this.setMembers(ws, new Set([...ws.allowed, actor]));
        const c = await this.launchFor(actor, ws.name);
        await this.setMembers(ws, new Set([...ws.allowed].filter((u) => u !== actor)));
        return c;
      }
      default:
        return this.clusterWhere(() => true) ?? (await this.launchFor(this.plain(), 'default'));
    }
  }

  private async launchFor(owner: string, workspace: string): Promise<MCluster | undefined> {
    if (this.m.clusters.size >= MAX_CLUSTERS) await this.downOne();
    const name = this.fresh('c');
    const out = await this.api.op(this.acct(owner), 'launch', { cluster: name, task: this.task() }, workspace);
    if (out.record?.status !== 'SUCCEEDED') {
      this.problem(`${owner}: a launch the fuzzer needs (cluster ${name} in ${workspace}) ended ${out.submit.status} ${out.record?.status ?? ''} ${out.record?.error?.message ?? out.submit.text}`);
      return undefined;
    }
    this.result.tasks.succeeded += 1;
    const jobId = (out.record.result as { jobId?: number }).jobId;
    const c: MCluster = { name, owner, workspace, status: 'UP', jobs: jobId ? [{ id: jobId, user: owner }] : [], hasCommand: true };
    this.m.clusters.set(name, c);
    this.m.requests.set(out.record.id, { id: out.record.id, user: owner, workspace });
    return c;
  }

  /** A finished request of this user in this workspace. */
  private async requestOf(user: string, workspace: string): Promise<void> {
    const { id } = await this.api.must(this.acct(user), 'ping', {}, workspace);
    this.m.requests.set(id, { id, user, workspace });
  }

  private async downOne(): Promise<void> {
    const c = this.rng.pick([...this.m.clusters.values()]);
    await this.api.must(this.o.admin, 'down', { cluster: c.name });
    this.m.clusters.delete(c.name);
  }

  private async setMembers(ws: MWorkspace, allowed: Set<string>): Promise<void> {
    const res = await this.api.json(this.o.admin, `/api/v1/workspaces/${ws.name}`, { method: 'POST', body: { allowed_users: [...allowed] } });
    if (res.status !== 200) throw new Error(`workspace ${ws.name}: ${res.text}`);
    ws.allowed = allowed;
  }

  /**
   * The workspace header of an operation on a cluster: the cluster's own or default, whichever
   * the actor may use (as a CLI sends its active workspace); for the `header` relation one they
   * may not use, which is refused when submitted.
   */
  private headerFor(actor: string, c: MCluster, relation: string): string {
    if (relation === 'header') {
      const barred = [...this.m.workspaces.keys()].filter((w) => !this.m.canUse(actor, w));
      if (barred.length > 0) return this.rng.pick(barred);
    }
    return this.m.canUse(actor, c.workspace) && this.rng.chance(0.5) ? c.workspace : 'default';
  }

  // ------------------------------------------------------------------ moves

  private readonly moves: Record<string, { relations: readonly string[]; run: (relation: string) => Promise<void> }> = {
    launchNew: {
      relations: ['usable', 'unusable'],
      run: async (relation) => {
        const actor = relation === 'usable' && this.rng.chance(0.15) ? this.o.admin.name : this.plain();
        const pool = [...this.m.workspaces.values()].filter((w) => (relation === 'usable' ? this.m.canUse(actor, w.name) : !this.m.canUse(actor, w.name)));
        if (pool.length === 0) return;
        if (this.m.clusters.size >= MAX_CLUSTERS) await this.downOne();
        const ws = this.rng.pick(pool).name;
        const name = this.fresh('c');
        const body: Record<string, unknown> = { cluster: name, task: this.task() };
        if (this.rng.chance(0.2)) body.idle_minutes_to_autostop = this.rng.int(30, 600);
        const out = await this.op(actor, 'launch', body, ws, this.m.canUse(actor, ws) ? 'allow' : 'deny');
        if (out.record?.status === 'SUCCEEDED') {
          this.result.tasks.succeeded += 1;
          const jobId = (out.record.result as { jobId?: number }).jobId;
          this.m.clusters.set(name, { name, owner: actor, workspace: ws, status: 'UP', jobs: jobId ? [{ id: jobId, user: actor }] : [], hasCommand: true });
        }
      },
    },
    launchReuse: {
      relations: ['own', 'other', 'removed', 'header'],
      run: async (relation) => {
        const actor = this.plain();
        const c = await this.clusterFor(actor, relation === 'header' ? 'own' : relation);
        if (!c) return;
        const ws = this.headerFor(actor, c, relation);
        const since = Date.now() - 5;
        const out = await this.api.op(this.acct(actor), 'launch', { cluster: c.name, task: this.task() }, ws);
        const refused = (out.submit.status === 403 && codeOf(out.submit) === 'FORBIDDEN') || out.record?.error?.code === 'FORBIDDEN';
        const got = `${out.submit.status} ${out.record?.status ?? ''} ${out.record?.error?.code ?? codeOf(out.submit) ?? ''}`;
        if (!this.m.canUse(actor, ws)) await this.judge(`launch on ${c.name} in ${ws}`, actor, 'deny', refused, since, got);
        else if (c.owner !== actor) {
          if (out.record?.error?.code !== 'CLUSTER_NAME_TAKEN') this.problem(`${actor}: launch on ${c.owner}'s cluster ${c.name} must fail CLUSTER_NAME_TAKEN, got ${got}`);
        } else await this.judge(`launch on own ${c.name} (in ${c.workspace})`, actor, this.m.canOperate(actor, c) ? 'allow' : 'deny', refused, since, got);
        if (out.record) this.m.requests.set(out.record.id, { id: out.record.id, user: actor, workspace: ws });
        if (out.record?.status === 'SUCCEEDED') {
          c.status = 'UP';
          const jobId = (out.record.result as { jobId?: number }).jobId;
          if (jobId) c.jobs.push({ id: jobId, user: actor });
        }
      },
    },
    exec: {
      relations: ['own', 'other', 'removed', 'admin', 'header'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const c = await this.clusterFor(actor, relation === 'admin' ? 'any' : relation === 'header' ? 'own' : relation);
        if (!c) return;
        const ws = this.headerFor(actor, c, relation);
        const verdict = this.m.canUse(actor, ws) && this.m.canOperate(actor, c) ? 'allow' : 'deny';
        const out = await this.op(actor, 'exec', { cluster: c.name, task: this.task() }, ws, verdict);
        const jobId = (out.record?.result as { jobId?: number } | undefined)?.jobId;
        if (out.record?.status === 'SUCCEEDED' && jobId) c.jobs.push({ id: jobId, user: actor });
      },
    },
    stopStart: {
      relations: ['own', 'other', 'removed', 'admin', 'header'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const c = await this.clusterFor(actor, relation === 'admin' ? 'any' : relation === 'header' ? 'own' : relation);
        if (!c) return;
        const name = c.status === 'UP' ? 'stop' : 'start';
        const ws = this.headerFor(actor, c, relation);
        const out = await this.op(actor, name, { cluster: c.name }, ws, this.m.canUse(actor, ws) && this.m.canOperate(actor, c) ? 'allow' : 'deny');
        if (out.record?.status === 'SUCCEEDED') c.status = name === 'stop' ? 'STOPPED' : 'UP';
      },
    },
    down: {
      relations: ['own', 'other', 'removed', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const c = await this.clusterFor(actor, relation === 'admin' ? 'any' : relation === 'header' ? 'own' : relation);
        if (!c) return;
        const ws = this.headerFor(actor, c, relation);
        const out = await this.op(actor, 'down', { cluster: c.name }, ws, this.m.canUse(actor, ws) && this.m.canOperate(actor, c) ? 'allow' : 'deny');
        if (out.record?.status === 'SUCCEEDED') this.m.clusters.delete(c.name);
      },
    },
    autostop: {
      relations: ['own', 'other', 'removed', 'admin', 'header'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const c = await this.clusterFor(actor, relation === 'admin' ? 'any' : relation === 'header' ? 'own' : relation);
        if (!c) return;
        const body = this.rng.chance(0.3) ? { cluster: c.name, cancel: true } : { cluster: c.name, idle_minutes: this.rng.int(60, 6000), down: this.rng.chance(0.5) };
        const ws = this.headerFor(actor, c, relation);
        await this.op(actor, 'autostop', body, ws, this.m.canUse(actor, ws) && this.m.canOperate(actor, c) ? 'allow' : 'deny');
      },
    },
    cancelJobs: {
      relations: ['own', 'other', 'removed', 'hidden', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const c = await this.clusterFor(actor, relation === 'admin' ? 'any' : relation === 'header' ? 'own' : relation);
        if (!c || c.jobs.length === 0) return;
        const job = this.rng.pick(c.jobs);
        const ws = this.headerFor(actor, c, relation);
        const m = this.m;
        const allowed = m.canUse(actor, ws) && (m.isAdmin(actor) || (m.canUse(actor, c.workspace) && m.canReadJob(actor, c, job)));
        await this.op(actor, 'cancel', { cluster: c.name, job_ids: [job.id] }, ws, allowed ? 'allow' : 'deny');
      },
    },
    refresh: {
      relations: ['own', 'allUsers', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const all = relation !== 'own' || this.rng.chance(0.2);
        const names = [...this.m.clusters.keys()].filter(() => this.rng.chance(0.5));
        const body = { ...(all ? { all_users: true } : {}), ...(names.length > 0 ? { clusters: names } : {}) };
        const out = await this.op(actor, 'refresh', body, 'default', all && !this.m.isAdmin(actor) ? 'deny' : 'allow');
        for (const name of (out.record?.result as { refreshed?: string[] } | undefined)?.refreshed ?? []) {
          const c = this.m.clusters.get(name);
          if (c && !this.m.canOperate(actor, c)) this.problem(`${actor}: refresh touched ${c.owner}'s cluster ${name}, which they may not change`);
        }
      },
    },
    ping: {
      relations: ['short', 'long', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const sleep = relation === 'short' ? this.rng.int(0, 5) / 10 : this.rng.int(6, 120);
        const body: Record<string, unknown> = { sleep };
        if (this.rng.chance(0.3)) body.lane = this.rng.pick(['short', 'long']);
        if (this.rng.chance(0.2)) body.fail = `planned ${this.rng.int(1, 9)}`;
        const verdict = sleep > 5 && !this.m.isAdmin(actor) ? 'deny' : 'allow';
        if (sleep > 1) {
          // Long pings are only submitted (and cancelled at once): whether they are accepted is the point.
          const since = Date.now() - 5;
          const res = await this.api.call(this.acct(actor), route('ping'), { body });
          await this.judge(`ping ${JSON.stringify(body)}`, actor, verdict, res.status === 403 && codeOf(res) === 'FORBIDDEN', since, `${res.status} ${codeOf(res) ?? ''}`);
          if (res.status === 202) {
            const id = (res.json() as { requestId: string }).requestId;
            await this.api.json(this.acct(actor), '/api/v1/requests/cancel', { method: 'POST', body: { ids: [id] } });
            this.m.requests.set(id, { id, user: actor, workspace: 'default' });
          }
          return;
        }
        const ws = this.rng.pick([...this.m.workspaces.keys()]);
        await this.op(actor, 'ping', body, ws, this.m.canUse(actor, ws) ? 'allow' : 'deny');
      },
    },
    cancelRequests: {
      relations: ['own', 'other', 'allUsers', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const owner = relation === 'own' ? actor : this.rng.pick(this.m.plainUsers().filter((u) => u !== actor));
        if (![...this.m.requests.values()].some((r) => r.user === owner)) await this.requestOf(owner, 'default');
        const mine = [...this.m.requests.values()].filter((r) => r.user === actor);
        const theirs = [...this.m.requests.values()].filter((r) => r.user !== actor);
        const pool = relation === 'own' ? mine : theirs;
        const ids = pool.length > 0 ? [this.rng.pick(pool).id] : [];
        const body: Record<string, unknown> = relation === 'allUsers' ? { all: true, all_users: true } : { ids: ids.length > 0 ? ids : undefined, all: this.rng.chance(0.3) ? true : undefined };
        if (body.ids === undefined && body.all === undefined) return;
        const m = this.m;
        const verdict = m.isAdmin(actor) || (relation !== 'allUsers' && ids.every((id) => m.requests.get(id)?.user === actor)) ? 'allow' : 'deny';
        const since = Date.now() - 5;
        const res = await this.api.json(this.acct(actor), '/api/v1/requests/cancel', { method: 'POST', body });
        await this.judge(`cancel requests ${JSON.stringify(body)}`, actor, verdict, res.status === 403, since, `${res.status} ${res.text.slice(0, 120)}`);
      },
    },
    readRequest: {
      relations: ['own', 'other', 'hidden', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const m = this.m;
        const wanted = (r: MRequest): boolean =>
          relation === 'own' ? r.user === actor : relation === 'hidden' ? !m.canSeeRequest(actor, r) : relation === 'other' ? r.user !== actor && m.canSeeRequest(actor, r) : true;
        if (![...m.requests.values()].some(wanted)) {
          if (relation === 'hidden') {
            const ws = [...m.workspaces.values()].find((w) => w.private && !m.canUse(actor, w.name) && [...w.allowed].some((u) => u !== actor));
            if (ws) await this.requestOf([...ws.allowed].find((u) => u !== actor)!, ws.name);
          } else await this.requestOf(relation === 'other' ? this.rng.pick(m.plainUsers().filter((u) => u !== actor)) : actor, 'default');
        }
        const pool = [...m.requests.values()].filter(wanted);
        if (pool.length === 0) return;
        const r = this.rng.pick(pool);
        const which = this.rng.pick(['getRequest', 'waitRequest', 'requestLogs'] as const);
        const query = which === 'waitRequest' ? 'timeout=0' : which === 'requestLogs' ? 'follow=false' : '';
        const verdict = m.canSeeRequest(actor, r) && (which !== 'requestLogs' || m.canReadRequest(actor, r)) ? 'allow' : 'deny';
        const answer = await this.get(actor, route(which), { id: r.id }, query, verdict);
        if (answer && which !== 'requestLogs') {
          const body = (answer.json() as { body: unknown }).body;
          if ((body !== null) !== m.canReadRequest(actor, r)) this.problem(`${actor}: request ${r.id} of ${r.user} shown ${body === null ? 'without' : 'with'} its body`);
        }
      },
    },
    listRequests: {
      relations: ['plain', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const answer = await this.get(actor, route('listRequests'), {}, 'all_users=true&limit=1000', 'allow');
        if (!answer) return;
        for (const item of (answer.json() as { items: Array<{ id: string; body: unknown }> }).items) {
          const r = this.m.requests.get(item.id);
          if (!r) continue;
          if (!this.m.canSeeRequest(actor, r)) this.problem(`${actor}: sky api status -u lists ${r.user}'s request ${r.id} in private workspace ${r.workspace}`);
          if ((item.body !== null) !== this.m.canReadRequest(actor, r)) this.problem(`${actor}: sky api status -u shows ${r.user}'s request ${r.id} ${item.body === null ? 'without' : 'with'} its body`);
        }
      },
    },
    listClusters: {
      relations: ['plain', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const answer = await this.get(actor, route('listClusters'), {}, this.rng.chance(0.5) ? 'all_users=true' : 'all_users=true&summary=true', 'allow');
        if (!answer) return;
        const listed = new Set<string>();
        for (const item of (answer.json() as { items: Array<{ name: string; lastCommand?: string }> }).items) {
          listed.add(item.name);
          const c = this.m.clusters.get(item.name);
          if (!c) continue;
          if (!this.m.canSeeCluster(actor, c)) this.problem(`${actor}: sky status -u lists ${c.owner}'s cluster ${c.name} in private workspace ${c.workspace}`);
          const whole = this.m.isAdmin(actor) || c.owner === actor;
          if (item.lastCommand !== undefined && !whole) this.problem(`${actor}: sky status -u shows the command line of ${c.owner}'s cluster ${c.name}`);
        }
        for (const c of this.m.clusters.values()) if (this.m.canSeeCluster(actor, c) && !listed.has(c.name)) this.problem(`${actor}: sky status -u leaves out ${c.name}, which they may see`);
      },
    },
    readCluster: {
      relations: ['own', 'other', 'hidden', 'removed', 'admin'].flatMap((r) => ['getCluster', 'listJobs', 'jobLogs'].map((w) => `${r}:${w}`)),
      run: async (rel) => {
        const [relation, which] = rel.split(':') as [string, 'getCluster' | 'listJobs' | 'jobLogs'];
        const actor = this.actorFor(relation);
        const c = await this.clusterFor(actor, relation === 'admin' ? 'any' : relation === 'header' ? 'own' : relation);
        if (!c) return;
        const m = this.m;
        const visible = m.canSeeCluster(actor, c);
        if (which === 'getCluster') {
          const answer = await this.get(actor, route('getCluster'), { name: c.name }, '', visible ? 'allow' : 'deny');
          const shown = answer ? (answer.json() as { lastCommand?: string }).lastCommand !== undefined : false;
          if (answer && shown && !(m.isAdmin(actor) || c.owner === actor)) this.problem(`${actor}: the command line of ${c.owner}'s cluster ${c.name} is shown`);
        } else if (which === 'listJobs') {
          const answer = await this.get(actor, route('listJobs'), { name: c.name }, 'all_users=true', visible ? 'allow' : 'deny');
          for (const j of answer ? (answer.json() as { items: Array<{ id: number; user: string; command?: string }> }).items : []) {
            const owner = [...m.users.values()].find((u) => u.id === j.user)?.acct.name ?? j.user;
            if (j.command !== undefined && !m.canReadJob(actor, c, { id: j.id, user: owner })) this.problem(`${actor}: the command of job ${j.id} on ${c.owner}'s cluster ${c.name} is shown`);
          }
        } else if (c.jobs.length > 0) {
          const job = this.rng.pick(c.jobs);
          await this.get(actor, route('jobLogs'), { name: c.name, job: String(job.id) }, 'follow=false', visible && m.canReadJob(actor, c, job) ? 'allow' : 'deny');
        }
      },
    },
    tokens: {
      relations: ['own', 'other:create', 'other:list', 'other:revoke', 'other:rotate', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const m = this.m;
        const action = relation.startsWith('other:') ? (relation.slice(6) as 'create' | 'list' | 'revoke' | 'rotate') : this.rng.pick(['create', 'list', 'revoke', 'rotate'] as const);
        const subject = relation === 'own' ? actor : this.rng.pick(m.plainUsers().filter((u) => u !== actor));
        const verdict = subject === actor || m.isAdmin(actor) ? 'allow' : 'deny';
        const since = Date.now() - 5;
        if (action === 'create' || action === 'list') {
          const res =
            action === 'create'
              ? await this.api.json<{ record: { id: string } }>(this.acct(actor), '/api/v1/tokens', { method: 'POST', body: { name: `f${this.rng.int(1, 999)}`, user: subject, ...(this.rng.chance(0.5) ? { expires_in_days: this.rng.int(1, 30) } : {}) } })
              : await this.api.json(this.acct(actor), `/api/v1/tokens?user=${subject}`);
          await this.judge(`token ${action} for ${subject}`, actor, verdict, res.status === 403, since, `${res.status}`);
          if (action === 'create' && res.status === 201) {
            const id = (res.body as { record: { id: string } }).record.id;
            m.tokens.set(id, { id, user: subject });
          }
          return;
        }
        const pool = [...m.tokens.values()].filter((t) => t.user === subject);
        if (pool.length === 0) {
          const made = await this.api.json<{ record: { id: string } }>(this.acct(subject), '/api/v1/tokens', { method: 'POST', body: { name: 'made' } });
          if (made.status === 201) m.tokens.set(made.body.record.id, { id: made.body.record.id, user: subject });
        }
        const token = this.rng.pick([...m.tokens.values()].filter((t) => t.user === subject));
        const res = await this.api.json<{ record?: { id: string } }>(this.acct(actor), `/api/v1/tokens/${token.id}/${action}`, { method: 'POST', body: {} });
        await this.judge(`token ${action} of ${subject}`, actor, verdict, res.status === 403, since, `${res.status}`);
        if (res.status < 300) {
          m.tokens.delete(token.id);
          if (action === 'rotate' && res.body.record) m.tokens.set(res.body.record.id, { id: res.body.record.id, user: subject });
        }
      },
    },
    password: {
      relations: ['own', 'other', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const target = relation === 'own' ? actor : this.plain();
        const since = Date.now() - 5;
        // The same password again: allowed or not, nobody is locked out.
        const body = { password: this.acct(target).password, ...(target === actor ? { current_password: this.acct(actor).password } : {}) };
        const res = await this.api.json(this.acct(actor), `/api/v1/users/${target}/password`, { method: 'POST', body });
        await this.judge(`set ${target}'s password`, actor, target === actor || this.m.isAdmin(actor) ? 'allow' : 'deny', res.status === 403, since, `${res.status}`);
      },
    },
    workspaceChange: {
      relations: ['plain', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const ws = this.rng.pick([...this.m.workspaces.values()].filter((w) => w.private));
        const allowed = new Set(this.m.plainUsers().filter(() => this.rng.chance(0.5)));
        const since = Date.now() - 5;
        const res = await this.api.json(this.acct(actor), `/api/v1/workspaces/${ws.name}`, { method: 'POST', body: { allowed_users: [...allowed] } });
        await this.judge(`change workspace ${ws.name}`, actor, this.m.isAdmin(actor) ? 'allow' : 'deny', res.status === 403, since, `${res.status}`);
        if (res.status === 200) ws.allowed = allowed;
      },
    },
    listWorkspaces: {
      relations: ['plain', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const answer = await this.get(actor, route('listWorkspaces'), {}, '', 'allow');
        if (!answer) return;
        const names = new Set((answer.json() as { items: Array<{ name: string }> }).items.map((w) => w.name));
        for (const ws of this.m.workspaces.values()) {
          if (names.has(ws.name) !== this.m.canUse(actor, ws.name)) this.problem(`${actor}: workspace ${ws.name} ${names.has(ws.name) ? 'listed' : 'not listed'}`);
        }
      },
    },
    role: {
      relations: ['plain', 'admin'],
      run: async (relation) => {
        // The last plain user's role flips now and then: a demoted admin is a user again at once.
        const actor = this.actorFor(relation);
        const target = `${this.o.prefix}-u3`;
        const role = this.m.isAdmin(target) ? 'user' : this.rng.pick(['admin', 'user'] as const);
        const since = Date.now() - 5;
        const res = await this.api.json(this.acct(actor), `/api/v1/users/${target}/role`, { method: 'POST', body: { role } });
        await this.judge(`make ${target} ${role}`, actor, this.m.isAdmin(actor) ? 'allow' : 'deny', res.status === 403, since, `${res.status}`);
        if (res.status === 200) this.m.users.get(target)!.admin = role === 'admin';
      },
    },
    adminRoute: {
      relations: ['plain', 'admin'],
      run: async (relation) => {
        // Any admin-only route of the table (from its metadata), with real names.
        const actor = this.actorFor(relation);
        const spec = this.rng.pick(ROUTE_LIST.filter((r) => r.access === 'admin' && r.operation === undefined && ['get', 'post'].includes(r.method)));
        if (!this.m.isAdmin(actor) || spec.method === 'get') {
          const params: Record<string, string> = {};
          for (const m of spec.path.matchAll(/:([A-Za-z_]+)/g)) params[m[1]!] = spec.path.includes('/workspaces/') ? [...this.m.workspaces.keys()][1]! : this.plain();
          const since = Date.now() - 5;
          const res = await this.api.call(this.acct(actor), spec, { params, query: spec.id === 'serverLogs' ? 'follow=false&tail=1' : '', body: {} });
          await this.judge(`${spec.method.toUpperCase()} ${spec.path}`, actor, this.m.isAdmin(actor) ? 'allow' : 'deny', res.status === 403 && codeOf(res) === 'FORBIDDEN', since, `${res.status} ${codeOf(res) ?? ''}`);
          return;
        }
        const made = await this.api.json(this.acct(actor), '/api/v1/users', { method: 'POST', body: { name: this.fresh('v'), password: 'visitor-password' } });
        if (made.status !== 201) this.problem(`admin: creating a user answered ${made.status}`);
      },
    },
    adminOp: {
      relations: ['plain', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const spec = this.rng.pick(ROUTE_LIST.filter((r) => r.access === 'admin' && r.operation !== undefined));
        await this.op(actor, spec.operation!, this.rng.chance(0.5) ? {} : { infra: 'ssh' }, 'default', this.m.isAdmin(actor) ? 'allow' : 'deny');
      },
    },
    hostDetails: {
      relations: ['plain', 'admin'],
      run: async (relation) => {
        const actor = this.actorFor(relation);
        const out = await this.op(actor, 'check', this.rng.chance(0.5) ? {} : { infra: ['local'] }, 'default', 'allow');
        if (out.record?.status === 'SUCCEEDED' && !this.m.isAdmin(actor) && JSON.stringify(out.record.result).includes('"hosts"')) this.problem(`${actor}: check gave per-host reports to a non-admin`);
      },
    },
  };

  // ------------------------------------------------------------------ the run

  async run(): Promise<void> {
    await this.setup();
    const combos: Array<[string, string]> = [];
    for (const [name, move] of Object.entries(this.moves)) for (const relation of move.relations) combos.push([name, relation]);
    // Every move in every relation, in a seeded order; then random moves.
    const schedule = [...combos];
    for (let i = schedule.length - 1; i > 0; i--) {
      const j = this.rng.int(0, i);
      [schedule[i], schedule[j]] = [schedule[j]!, schedule[i]!];
    }
    for (let i = 0; i < this.o.extraSteps; i++) schedule.push(this.rng.pick(combos));
    for (const [name, relation] of schedule) {
      this.result.steps += 1;
      this.result.moves[name] = (this.result.moves[name] ?? 0) + 1;
      try {
        await this.moves[name]!.run(relation);
      } catch (err) {
        if (err instanceof Stop) throw err;
        this.problem(`move ${name} (${relation}) broke: ${(err as Error).message}`);
      }
    }
  }
}

export function fuzzSeed(): number {
  const fromEnv = process.env.SKY_FUZZ_SEED;
  return fromEnv !== undefined ? Number(fromEnv) : (Date.now() ^ (process.pid << 16)) >>> 0;
}

export { Rng };
