import type { ClusterList, RefreshBody } from '@sky/protocol';
import { toSkyError } from '@sky/protocol/wire';
import type { SkyClient } from '@sky/client';
import { statusTable } from '../cluster-format.js';
import { connect, withServer } from '../context.js';
import { requestError } from '../follow.js';
import { note, print, printJson } from '../output.js';
import type { CliOptions, Invocation } from '../usage.js';

/** `sky status [-u] [-r] [CLUSTERS...]`, laid out as SkyPilot's. */
export async function run({ args, options }: Invocation): Promise<number> {
  const client = await connect();
  try {
    if (options.refresh === true) await refresh(client, args, options);
    const list = await withServer(client, () => client.listClusters({ all_users: options.allUsers, names: args, summary: options.output !== 'json' }));
    if (options.output === 'json') {
      printJson(list);
      return 0;
    }
    print(statusLines(list, args, options).join('\n')); // one write: thousands of rows go out at once
    return 0;
  } finally {
    client.close();
  }
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

export function statusLines(list: ClusterList, names: readonly string[], options: Pick<CliOptions, 'allUsers' | 'refresh'>, now = Date.now()): string[] {
  const lines = [`Enabled Infra: ${list.enabledInfra.length > 0 ? list.enabledInfra.join(', ') : '(none)'}`, '', 'Clusters'];
  if (list.items.length === 0) lines.push('No existing clusters.');
  else lines.push(...statusTable(list.items, { showUser: options.allUsers === true, now }));
  const missing = names.filter((n) => !list.items.some((c) => c.name === n));
  if (missing.length > 0) lines.push('', `Cluster(s) not found: ${missing.join(', ')}.`);
  const pending = list.items.filter((c) => c.autostop !== undefined && c.status !== 'STOPPED').length;
  if (pending > 0 && options.refresh !== true) {
    const has = pending === 1 ? '1 cluster has' : `${pending} clusters have`;
    lines.push('', `* ${has} auto{stop,down} scheduled. Refresh statuses with: sky status --refresh`);
  }
  return lines;
}
