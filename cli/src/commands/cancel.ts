import type { CancelJobsBody, CancelJobsResult } from '@sky/protocol';
import { confirmOrAbort } from '../confirm.js';
import { connect, withServer } from '../context.js';
import { requestError } from '../follow.js';
import { parseJobId } from '../jobs.js';
import { note, print } from '../output.js';
import { UsageError, type Invocation } from '../usage.js';

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/** `sky cancel CLUSTER [JOB_IDS...] [-a] [-u] [-y]` (no IDs and no -a: the caller's newest unfinished job, as SkyPilot). */
export async function run({ args, options }: Invocation): Promise<number> {
  const help = 'sky cancel --help';
  const cluster = args[0]!;
  const ids = args.slice(1).map((a) => parseJobId(a, help));
  const all = options.all === true || options.allUsers === true;
  if (ids.length > 0 && all) throw new UsageError('give job IDs or -a/-u, not both', help);
  const client = await connect();
  try {
    const body: CancelJobsBody = { cluster };
    let what: string;
    if (options.allUsers === true) {
      body.all = true;
      body.all_users = true;
      what = "all users' unfinished jobs";
    } else if (options.all === true) {
      body.all = true;
      what = 'all your unfinished jobs';
    } else {
      if (ids.length === 0) {
        const newest = (await withServer(client, () => client.listJobs(cluster, { skip_finished: true }))).items.sort((a, b) => b.id - a.id)[0];
        if (newest === undefined) {
          print(`No unfinished job of yours on cluster ${cluster}.`);
          return 0;
        }
        note(`No job IDs or -a/-u given: cancelling your newest unfinished job (${newest.id}).`);
        ids.push(newest.id);
      }
      body.job_ids = ids;
      what = `${plural(ids.length, 'job')} ${ids.join(', ')}`;
    }
    const go = await confirmOrAbort({
      question: `Cancelling ${what} on cluster ${cluster}. Proceed?`,
      yes: options.yes,
      action: `sky cancel would cancel ${what} on cluster ${cluster}`,
      help,
    });
    if (!go) return 1;
    const { requestId } = await withServer(client, () => client.submit('cancel', body));
    if (options.async === true) {
      print(requestId);
      note(`Submitted cancel request ${requestId}. Follow it with: sky api logs ${requestId}`);
      return 0;
    }
    const record = await client.waitUntilDone(requestId);
    if (record.status !== 'SUCCEEDED') throw requestError(record);
    const result = record.result as CancelJobsResult;
    if (result.cancelled.length > 0) print(`Cancelled ${plural(result.cancelled.length, 'job')} on cluster ${cluster}: ${result.cancelled.join(', ')}`);
    if (result.alreadyFinished.length > 0) print(`Already finished: ${result.alreadyFinished.join(', ')}`);
    if (result.cancelled.length === 0 && result.alreadyFinished.length === 0) print(`No unfinished jobs to cancel on cluster ${cluster}.`);
    return 0;
  } finally {
    client.close();
  }
}
