import type { JobRecord } from '@sky/protocol';
import { isConnectionRefused } from '@sky/client';
import { queueTable } from '../cluster-format.js';
import { connect, withServer } from '../context.js';
import { note, print, printJson } from '../output.js';
import type { Invocation } from '../usage.js';

type Outcome = { cluster: string; jobs: JobRecord[] } | { cluster: string; error: Error };

/** `sky queue [CLUSTERS...] [-u] [-s]`: each cluster's job queue (default: all of the caller's clusters, or everyone's with -u). */
export async function run({ args, options }: Invocation): Promise<number> {
  const client = await connect();
  try {
    const names = args.length > 0 ? args : (await withServer(client, () => client.listClusters({ all_users: options.allUsers, summary: true }))).items.map((c) => c.name);
    if (names.length === 0) {
      if (options.output === 'json') printJson({});
      else print('No existing clusters.');
      return 0;
    }
    const query = { all_users: options.allUsers, skip_finished: options.skipFinished };
    const outcomes = await withServer(client, () =>
      Promise.all(
        names.map(async (cluster): Promise<Outcome> => {
          try {
            return { cluster, jobs: (await client.listJobs(cluster, query)).items };
          } catch (error) {
            // No server at all: withServer starts the local one and asks again.
            if (isConnectionRefused(error)) throw error;
            return { cluster, error: error as Error };
          }
        }),
      ),
    );
    const failed = outcomes.filter((o): o is Extract<Outcome, { error: Error }> => 'error' in o);
    if (options.output === 'json') {
      printJson(Object.fromEntries(outcomes.flatMap((o) => ('jobs' in o ? [[o.cluster, o.jobs]] : []))));
    } else {
      const whose = options.allUsers === true ? 'all users' : 'current user';
      const now = Date.now();
      let first = true;
      for (const outcome of outcomes) {
        if (!('jobs' in outcome)) continue;
        if (!first) print();
        first = false;
        print(`Job queue of ${whose} on cluster ${outcome.cluster}`);
        for (const line of queueTable(outcome.cluster, outcome.jobs, now)) print(line);
      }
    }
    for (const { cluster, error } of failed) {
      note(`sky: failed to get the job queue of cluster ${cluster}: ${error.message}`);
      const hint = (error as { hint?: unknown }).hint;
      if (typeof hint === 'string') note(`  hint: ${hint}`);
    }
    return failed.length > 0 ? 1 : 0;
  } finally {
    client.close();
  }
}
