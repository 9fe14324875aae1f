import type { AuditRecord, Health, PingBody, PingResult, RequestRecord } from '@sky/protocol';
import { DEFAULT_HOST, SkyError, type SkyClient } from '@sky/client';
import { connect, withServer } from '../context.js';
import { exitCodeOf, followRequest } from '../follow.js';
import { age, duration, table } from '../format.js';
import { note, print, printJson } from '../output.js';
import { runInForeground, startInBackground, stopServer } from '../server-control.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';
import { auditTable, parseSince } from '../audit-format.js';

const PAGE_SIZE = 500;

/** `sky api <action>`: dispatch to the action; every action that talks to the server shares one client. */
export async function run({ action, args, options }: Invocation): Promise<number> {
  if (action.name === 'stop') return stopServer();
  if (action.name === 'login') return (await import('./login.js')).loginCommand(options);
  if (action.name === 'logout') return (await import('./login.js')).logoutCommand();
  const client = await connect();
  try {
    switch (action.name) {
      case 'info':
        return await info(client, options);
      case 'status':
        return await status(client, args, options);
      case 'logs':
        return await logs(client, args, options);
      case 'cancel':
        return await cancel(client, args, options);
      case 'ping':
        return await ping(client, options);
      case 'start':
        return await start(client, options);
      case 'audit':
        return await audit(client, options);
      case 'export':
        return await (await import('./api-export.js')).exportState(client, args, options);
      case 'events':
        return await (await import('./api-events.js')).events(client, options);
      case 'usage':
        return await (await import('./api-usage.js')).usage(client, options);
      default:
        throw new UsageError(`unknown action '${action.name}' for sky api`, 'sky api --help');
    }
  } finally {
    client.close();
  }
}

/** Store kinds one daemon has to itself. */
const SINGLE_PROCESS_STORES = new Set(['level', 'memory']);

async function info(client: SkyClient, options: CliOptions): Promise<number> {
  const health = await withServer(client, () => client.health());
  const { url } = client.endpoint;
  if (options.output === 'json') {
    printJson({ url, dashboard: `${url}/dashboard`, ...health });
    return 0;
  }
  print(`Using SkyPilot API server: ${url} Dashboard: ${url}/dashboard`);
  const status = health.ready === false ? `not ready (state store ${health.store?.state ?? 'unavailable'})` : health.status;
  print(`├── Status: ${status}, commit: ${health.commit}, version: ${health.version}`);
  if (health.store !== undefined) {
    const where = health.store.location === undefined ? '' : ` ${health.store.location}`;
    print(`├── Store: ${health.store.kind}${where}${health.store.error === undefined ? '' : ` (${health.store.error})`}`);
  }
  if (health.replica !== undefined) print(`├── Replica: ${health.replica}`);
  // A store of one daemon (LevelDB, memory): it always leads, nothing to say.
  if (health.leader !== undefined && health.store !== undefined && !SINGLE_PROCESS_STORES.has(health.store.kind)) {
    print(`├── Leader: ${health.leader ? 'yes (this replica runs managed jobs, autostop and pruning)' : 'no (another replica runs managed jobs, autostop and pruning)'}`);
  }
  print(`└── User: ${health.user.name} (${health.user.id})`);
  return 0;
}

/** With -a and no -l, how many of the newest requests are shown (finished ones accumulate until pruned). */
const DEFAULT_ALL_LIMIT = 50;

async function listRequests(client: SkyClient, options: CliOptions): Promise<RequestRecord[]> {
  const items: RequestRecord[] = [];
  const limit = options.limit ?? (options.all === true ? DEFAULT_ALL_LIMIT : undefined);
  let cursor: string | undefined;
  do {
    const want = limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, limit - items.length);
    const page = await client.list({
      all_users: options.allUsers,
      status: options.all === true ? undefined : ['PENDING', 'RUNNING'],
      limit: want,
      cursor,
    });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && (limit === undefined || items.length < limit));
  if (cursor !== undefined && options.limit === undefined && options.output !== 'json') {
    note(`Showing the ${items.length} newest requests; use -l N to see more.`);
  }
  return items;
}

async function status(client: SkyClient, ids: string[], options: CliOptions): Promise<number> {
  if (ids.length > 0 && (options.all === true || options.allUsers === true || options.limit !== undefined)) {
    throw new UsageError('request IDs cannot be combined with -a, -u or -l', 'sky api status --help');
  }
  const [records, local] = await withServer(client, () =>
    Promise.all([
      ids.length > 0 ? Promise.all(ids.map((id) => client.get(id))) : listRequests(client, options),
      options.output === 'json' ? undefined : client.health().then((h) => h, () => undefined),
    ]),
  );
  if (options.output === 'json') {
    printJson(records);
    return 0;
  }
  if (records.length === 0) {
    print(options.all === true ? 'No requests.' : 'No active requests (sky api status -a also shows finished ones).');
    return 0;
  }
  const now = Date.now();
  if (showsReplicas(records, local)) {
    const rows = records.map((r) => [r.id, r.userName, r.name, age(r.createdAt, now), r.status, r.replica ?? '-']);
    for (const line of table(['ID', 'USER', 'NAME', 'CREATED', 'STATUS', 'REPLICA'], rows)) print(line);
    return 0;
  }
  const rows = records.map((r) => [r.id, r.userName, r.name, age(r.createdAt, now), r.status]);
  for (const line of table(['ID', 'USER', 'NAME', 'CREATED', 'STATUS'], rows)) print(line);
  return 0;
}

/**
 * Whether `sky api status` shows the REPLICA column: when some request was run by a replica
 * other than the one answering, on a store several replicas share. One daemon keeps the
 * table as it always was (-o json always has each request's replica).
 */
export function showsReplicas(records: readonly RequestRecord[], server: Pick<Health, 'replica' | 'store'> | undefined): boolean {
  // A store of one daemon (LevelDB, memory): replica ids only differ across its restarts.
  if (server?.store !== undefined && (server.store.kind === 'level' || server.store.kind === 'memory')) return false;
  const seen = new Set(records.flatMap((r) => (r.replica === undefined ? [] : [r.replica])));
  if (server?.replica !== undefined) seen.add(server.replica);
  return seen.size > 1;
}

async function newestRequestId(client: SkyClient): Promise<string> {
  const page = await withServer(client, () => client.list({ limit: 1 }));
  const newest = page.items[0];
  if (newest === undefined) {
    throw new SkyError('REQUEST_NOT_FOUND', 'you have no requests yet', { hint: 'Submit one, e.g.: sky api ping' });
  }
  return newest.id;
}

async function serverLogs(client: SkyClient, follow: boolean): Promise<number> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  try {
    await withServer(client, () => client.serverLogs({ follow, signal: controller.signal }, (line) => print(line)));
    return 0;
  } catch (err) {
    if (controller.signal.aborted) return 130;
    throw err;
  } finally {
    process.off('SIGINT', stop);
  }
}

async function logs(client: SkyClient, args: string[], options: CliOptions): Promise<number> {
  const follow = options.follow ?? true;
  if (options.serverLogs === true) {
    if (args.length > 0) throw new UsageError('--server-logs takes no request ID', 'sky api logs --help');
    return serverLogs(client, follow);
  }
  const id = args[0] ?? (await newestRequestId(client));
  return exitCodeOf(await withServer(client, () => followRequest(client, id, follow)), id);
}

async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function cancel(client: SkyClient, ids: string[], options: CliOptions): Promise<number> {
  const help = 'sky api cancel --help';
  const all = options.all === true;
  if (ids.length === 0 && !all) throw new UsageError('give the IDs of the requests to cancel, or -a for all your active requests', help);
  if (ids.length > 0 && all) throw new UsageError('give request IDs or -a, not both', help);
  if (options.allUsers === true && !all) throw new UsageError('-u (--all-users) only goes with -a', help);
  if (all && options.yes !== true) {
    const whose = options.allUsers === true ? "every user's" : 'all your';
    if (!process.stdin.isTTY) throw new UsageError(`-a cancels ${whose} active requests; add -y to confirm (stdin is not a terminal)`, help);
    if (!(await confirm(`Cancel ${whose} active requests? [y/N] `))) {
      note('Nothing cancelled.');
      return 1;
    }
  }
  const result = await withServer(client, () =>
    client.cancel(all ? { all: true, all_users: options.allUsers } : { ids }),
  );
  const n = result.cancelled.length;
  if (n > 0) print(`Cancelled ${n} request${n === 1 ? '' : 's'}: ${result.cancelled.join(', ')}`);
  if (result.alreadyFinished.length > 0) print(`Already finished: ${result.alreadyFinished.join(', ')}`);
  if (n === 0 && result.alreadyFinished.length === 0) print('No active requests to cancel.');
  return 0;
}

async function ping(client: SkyClient, options: CliOptions): Promise<number> {
  const body: PingBody = {};
  if (options.sleep !== undefined) body.sleep = options.sleep;
  if (options.lane !== undefined) body.lane = options.lane;
  if (options.fail !== undefined) body.fail = options.fail;
  const { requestId } = await withServer(client, () => client.submit('ping', body));
  if (options.async === true) {
    print(requestId);
    note(`Submitted. Follow it with: sky api logs ${requestId}`);
    return 0;
  }
  note(`Request ID: ${requestId}`);
  const followed = await followRequest(client, requestId, true);
  if (followed.status === 'SUCCEEDED' && followed.record !== undefined) {
    const result = followed.record.result as PingResult;
    print(`pong from the API server (pid ${result.daemonPid}) after ${duration(result.sleptMs)}`);
  }
  return exitCodeOf(followed, requestId);
}

async function start(client: SkyClient, options: CliOptions): Promise<number> {
  const { endpoint } = client;
  if (!endpoint.local && options.host === undefined) {
    throw new SkyError('USAGE', `the API server in use (${endpoint.url}, from ${endpoint.source}) is not on this machine`, {
      hint: 'sky api start starts a local server; pass --host to start one anyway, or use sky daemon start on the server machine.',
    });
  }
  const host = options.host ?? (endpoint.local ? endpoint.host : DEFAULT_HOST);
  const port = options.port ?? endpoint.port;
  if (options.foreground === true) return runInForeground(['--host', host, '--port', String(port)]);
  return startInBackground(client, host, port);
}

/** Entries shown by `sky api audit` without -l. */
const DEFAULT_AUDIT_LIMIT = 100;

async function audit(client: SkyClient, options: CliOptions): Promise<number> {
  let since: number | undefined;
  if (options.since !== undefined) {
    since = parseSince(options.since);
    if (since === undefined) {
      throw new UsageError(`--since takes an ISO date or time (2026-01-31, 2026-01-31T12:00:00Z) or an age like 30m, 1h, 2d, 1w, not "${options.since}"`, 'sky api audit --help');
    }
  }
  const limit = options.limit ?? DEFAULT_AUDIT_LIMIT;
  const items: AuditRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await withServer(client, () =>
      client.listAudit({ user: options.user, since, limit: Math.min(PAGE_SIZE, limit - items.length), cursor }),
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && items.length < limit);
  if (options.output === 'json') {
    printJson(items);
    return 0;
  }
  if (items.length === 0) {
    note('No audit entries match.');
    return 0;
  }
  for (const line of auditTable(items)) print(line);
  if (cursor !== undefined && options.limit === undefined) note(`Showing the ${items.length} newest entries; use -l N to see more.`);
  return 0;
}
