import type { ClusterList, ClusterRecord, ClusterSummary, RefreshBody } from '@sky/protocol';
import { toSkyError } from '@sky/protocol/wire';
import { SkyError, type SkyClient } from '@sky/client';
import { statusTable } from '../cluster-format.js';
import { connect, withServer } from '../context.js';
import { requestError } from '../follow.js';
import { expandNames, isGlob } from '../glob.js';
import { note, print, printJson } from '../output.js';
import { endpointLines, statusJson, statusJsonCluster } from '../status-json.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';

type Listed = ClusterSummary | ClusterRecord;

/** `sky status [-u] [-r] [-v] [--ip | --endpoints] [-o json] [CLUSTERS...]`, laid out as SkyPilot's; names may be glob patterns. */
export async function run({ args, options }: Invocation): Promise<number> {
  const help = 'sky status --help';
  const single = options.ip === true ? '--ip' : options.endpoints === true ? '--endpoints' : undefined;
  if (options.ip === true && options.endpoints === true) throw new UsageError('give --ip or --endpoints, not both', help);
  if (single !== undefined && args.length !== 1) throw new UsageError(`${single} needs exactly one cluster name: sky status ${single} CLUSTER`, help);
  const patterns = args.filter(isGlob);
  const client = await connect();
  try {
    if (options.refresh === true) await refresh(client, patterns.length > 0 ? [] : args, options);
    const whole = options.output === 'json' || single !== undefined;
    // A pattern is matched here against every cluster the caller may see; plain names are asked for.
    const names = patterns.length > 0 ? [] : args;
    const query = { all_users: options.allUsers, names };
    // The table needs only the summaries, fetched in the compact columnar form.
    const list: ClusterList = await withServer(client, () => (whole ? client.listClusters(query) : client.listClusterSummaries(query)));
    const { names: wanted, unmatched } = expandNames(args, list.items.map((c) => c.name));
    if (unmatched.length > 0) {
      const quoted = unmatched.map((p) => `'${p}'`).join(', ');
      throw new SkyError('CLUSTER_NOT_FOUND', `no cluster${options.allUsers === true ? '' : ' of yours'} matches ${quoted}`, {
        hint: options.allUsers === true ? 'See the clusters with: sky status -u' : "See your clusters with: sky status (every user's: sky status -u)",
      });
    }
    const items: Listed[] = args.length === 0 ? list.items : list.items.filter((c) => wanted.includes(c.name));
    if (single !== undefined) return printSingle(items[0], args[0]!, single);
    if (options.output === 'json') {
      printJson(statusJson(list, items));
      return 0;
    }
    const literal = args.filter((a) => !isGlob(a));
    print(statusLines({ ...list, items }, literal, options).join('\n')); // one write: thousands of rows go out at once
    return 0;
  } finally {
    client.close();
  }
}

/** --ip: the head node's address; --endpoints: one `PORT: HOST:PORT` line per port of the task. */
function printSingle(cluster: Listed | undefined, name: string, flag: '--ip' | '--endpoints'): number {
  if (cluster === undefined) {
    throw new SkyError('CLUSTER_NOT_FOUND', `cluster ${name} not found`, { hint: 'See your clusters with: sky status' });
  }
  const json = statusJsonCluster(cluster);
  if (json.headIp === null) {
    throw new SkyError('CLUSTER_NOT_UP', `cluster ${name} has no head node address yet (status ${json.status})`, { hint: `Wait for it to be UP: sky status ${name}` });
  }
  if (flag === '--ip') {
    print(json.headIp);
    return 0;
  }
  const lines = endpointLines(json);
  if (lines.length === 0) {
    note(`Cluster ${name} has no ports: launch its task with resources.ports (or --ports) to have endpoints.`);
    return 1;
  }
  print(lines.join('\n'));
  return 0;
}

/** -r: the drivers report the real state of the clusters before they are listed. */
async function refresh(client: SkyClient, names: readonly string[], options: CliOptions): Promise<void> {
  const body: RefreshBody = {};
  if (names.length > 0) body.clusters = [...names];
  if (options.allUsers === true) body.all_users = true;
  let submitted;
  try {
    submitted = await withServer(client, () => client.submit('refresh', body));
  } catch (err) {
    // Refreshing everyone's clusters is for admins: anyone else refreshes their own and still lists all.
    if (body.all_users !== true || toSkyError(err)?.code !== 'FORBIDDEN') throw err;
    note("Refreshed only your own clusters: refreshing every user's needs the admin role.");
    delete body.all_users;
    submitted = await withServer(client, () => client.submit('refresh', body));
  }
  const { requestId } = submitted;
  const record = await client.waitUntilDone(requestId);
  if (record.status !== 'SUCCEEDED') throw requestError(record);
}

export function statusLines(
  list: ClusterList,
  names: readonly string[],
  options: Pick<CliOptions, 'allUsers' | 'refresh' | 'verbose'>,
  now = Date.now(),
): string[] {
  const lines = [`Enabled Infra: ${list.enabledInfra.length > 0 ? list.enabledInfra.join(', ') : '(none)'}`, '', 'Clusters'];
  if (list.items.length === 0) lines.push('No existing clusters.');
  else lines.push(...statusTable(list.items, { showUser: options.allUsers === true, showInfra: options.verbose === true, now }));
  const missing = names.filter((n) => !list.items.some((c) => c.name === n));
  if (missing.length > 0) lines.push('', `Cluster(s) not found: ${missing.join(', ')}.`);
  const pending = list.items.filter((c) => c.autostop !== undefined && c.status !== 'STOPPED').length;
  if (pending > 0 && options.refresh !== true) {
    const has = pending === 1 ? '1 cluster has' : `${pending} clusters have`;
    lines.push('', `* ${has} auto{stop,down} scheduled. Refresh statuses with: sky status --refresh`);
  }
  return lines;
}
