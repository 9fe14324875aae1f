import type { AutostopBody, ClusterBody, ClusterSummary, RequestRecord } from '@sky/protocol';
import { SkyError, isConnectionRefused, type SkyClient } from '@sky/client';
import { syncClusterSsh } from '../ssh-config.js';
import { confirmOrAbort } from '../confirm.js';
import { connect, withServer } from '../context.js';
import { requestError } from '../follow.js';
import { expandNames, isGlob } from '../glob.js';
import { note, print } from '../output.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';

export type LifecycleCommand = 'stop' | 'start' | 'down' | 'autostop';

/** SkyPilot's default idle time for `sky autostop` without -i. */
export const DEFAULT_IDLE_MINUTES = 5;

function clusters(n: number): string {
  return n === 1 ? '1 cluster' : `${n} clusters`;
}

/** How the command is worded: in the question, the progress lines and the refusal. */
export function wording(command: LifecycleCommand, options: Pick<CliOptions, 'cancel' | 'down'>): { operation: string; verb: string } {
  switch (command) {
    case 'stop':
      return { operation: 'Stopping', verb: 'stop' };
    case 'start':
      return { operation: 'Restarting', verb: 'restart' };
    case 'down':
      return { operation: 'Terminating', verb: 'tear down' };
    case 'autostop':
      if (options.cancel === true) return { operation: 'Cancelling auto{stop,down} on', verb: 'cancel auto{stop,down} on' };
      return options.down === true ? { operation: 'Scheduling autodown on', verb: 'schedule autodown on' } : { operation: 'Scheduling autostop on', verb: 'schedule autostop on' };
  }
}

/** Which of the caller's clusters -a means: stop skips stopped ones, start skips those already UP. */
export function selectForAll(command: LifecycleCommand, records: readonly ClusterSummary[]): { names: string[]; skipped: string[] } {
  const names: string[] = [];
  const skipped: string[] = [];
  for (const c of records) {
    if (command === 'stop' && c.status === 'STOPPED') continue;
    if (command === 'start' && c.status === 'UP') {
      skipped.push(c.name);
      continue;
    }
    names.push(c.name);
  }
  return { names, skipped };
}

function checkUsage(command: LifecycleCommand, args: readonly string[], options: CliOptions, help: string): void {
  const all = options.all === true || options.allUsers === true;
  if (args.length === 0 && !all) {
    const everyone = command === 'start' ? '' : ", or -u for every user's";
    throw new UsageError(`sky ${command} needs cluster names (see sky status), or -a for all your clusters${everyone}`, help);
  }
  if (args.length > 0 && all) throw new UsageError('give cluster names or -a/-u, not both', help);
  if (command === 'start' && options.async === true && (options.idleMinutesToAutostop !== undefined || options.down === true)) {
    throw new UsageError('-i/--down set autostop once the cluster is UP; they do not go with --async', help);
  }
  if (command === 'autostop') {
    if (options.cancel === true && options.idleMinutes !== undefined) throw new UsageError('give -i MINUTES or --cancel, not both', help);
    if (options.cancel === true && options.down === true) throw new UsageError('--cancel turns autostop and autodown off; it does not go with --down', help);
  }
}

export function autostopBody(cluster: string, options: CliOptions): AutostopBody {
  if (options.cancel === true) return { cluster, cancel: true };
  const body: AutostopBody = { cluster, idle_minutes: options.idleMinutes ?? DEFAULT_IDLE_MINUTES };
  if (options.down === true) body.down = true;
  return body;
}

async function submit(client: SkyClient, command: LifecycleCommand, cluster: string, options: CliOptions): Promise<string> {
  if (command === 'autostop') return (await client.submit('autostop', autostopBody(cluster, options))).requestId;
  const body: ClusterBody = { cluster };
  return (await client.submit(command, body)).requestId;
}

/** What is printed under a cluster once its request succeeded. */
export function successLines(command: LifecycleCommand, name: string, options: CliOptions): string[] {
  const { operation } = wording(command, options);
  const lines = [`${operation} cluster ${name}...done.`];
  if (command === 'stop') lines.push(`  To restart the cluster, run: sky start ${name}`);
  if (command === 'autostop' && options.cancel !== true) {
    const minutes = options.idleMinutes ?? DEFAULT_IDLE_MINUTES;
    const kind = options.down === true ? 'down' : 'stop';
    lines.push(
      `  The cluster will be auto${kind === 'down' ? 'downed' : 'stopped'} after ${minutes} minute${minutes === 1 ? '' : 's'} of idleness.`,
      `  To cancel the auto${kind}, run: sky autostop ${name} --cancel`,
    );
  }
  return lines;
}

type Outcome = { name: string; record: RequestRecord } | { name: string; error: Error };

/** Each request's log goes to stderr as it comes; Ctrl-C stops watching (the requests keep running). */
async function watch(client: SkyClient, submitted: ReadonlyArray<{ name: string; requestId: string }>, signal: AbortSignal): Promise<Outcome[]> {
  return Promise.all(
    submitted.map(async ({ name, requestId }): Promise<Outcome> => {
      try {
        await client.streamLogs(requestId, { follow: true, signal }, (chunk) => process.stderr.write(chunk.text.endsWith('\n') ? chunk.text : `${chunk.text}\n`));
        return { name, record: await client.get(requestId) };
      } catch (error) {
        if (signal.aborted) throw error;
        // The stream broke: the request's own record still says how it ended.
        try {
          return { name, record: await client.waitUntilDone(requestId, { signal }) };
        } catch {
          return { name, error: error as Error };
        }
      }
    }),
  );
}

/** `sky stop|start|down|autostop CLUSTERS...|-a`: one request per cluster, all in parallel. */
export async function run({ action, args, options }: Invocation): Promise<number> {
  const command = action.name as LifecycleCommand;
  const help = `sky ${command} --help`;
  checkUsage(command, args, options, help);
  const { operation, verb } = wording(command, options);
  const client = await connect();
  try {
    let names = [...new Set(args)];
    if (args.some(isGlob)) {
      names = await expandPatterns(client, command, args);
      if (names.length === 0) {
        if (command === 'stop') print('Nothing to stop: the matching clusters are already STOPPED.');
        return 0;
      }
    }
    if (names.length === 0) {
      const { items } = await withServer(client, () => client.listClusters({ all_users: options.allUsers, summary: true }));
      const selected = selectForAll(command, items);
      for (const name of selected.skipped) print(`Cluster ${name} already has status UP.`);
      names = selected.names;
      if (names.length === 0) {
        if (selected.skipped.length === 0) print('Cluster(s) not found (tip: see sky status).');
        return 0;
      }
    }
    const list = names.join(', ');
    if (command !== 'autostop') {
      const go = await confirmOrAbort({
        question: `${operation} ${clusters(names.length)}: ${list}. Proceed?`,
        yes: options.yes,
        action: `sky ${command} would ${verb} ${clusters(names.length)}: ${list}`,
        help,
      });
      if (!go) return 1;
    }
    const submissions = await withServer(client, async () => {
      const settled = await Promise.allSettled(names.map(async (name) => ({ name, requestId: await submit(client, command, name, options) })));
      // No server at all: withServer starts the local one and submits again.
      const refused = settled.find((s) => s.status === 'rejected' && isConnectionRefused(s.reason));
      if (refused !== undefined) throw (refused as PromiseRejectedResult).reason;
      return settled;
    });
    const submitted: Array<{ name: string; requestId: string }> = [];
    const outcomes = new Map<string, Outcome>();
    submissions.forEach((s, i) => {
      const name = names[i]!;
      if (s.status === 'fulfilled') submitted.push(s.value);
      else outcomes.set(name, { name, error: s.reason as Error });
    });
    if (options.async === true) {
      for (const { name, requestId } of submitted) {
        print(requestId);
        note(`${operation} cluster ${name}: request ${requestId} submitted (sky api logs ${requestId}).`);
      }
    } else {
      const controller = new AbortController();
      const detach = (): void => controller.abort();
      process.once('SIGINT', detach);
      try {
        for (const outcome of await watch(client, submitted, controller.signal)) outcomes.set(outcome.name, outcome);
      } catch (err) {
        if (!controller.signal.aborted) throw err;
        note(`\nDetached; the requests keep running. See them with: sky api status`);
        return 130;
      } finally {
        process.off('SIGINT', detach);
      }
    }
    await syncClusterSsh(client, command, outcomes);
    const code = report(command, names, outcomes, options);
    if (command === 'start' && (options.idleMinutesToAutostop !== undefined || options.down === true)) {
      const up = names.filter((name) => {
        const outcome = outcomes.get(name);
        return outcome !== undefined && reasonOf(outcome) === undefined;
      });
      return Math.max(code, await autostopAfterStart(client, up, options));
    }
    return code;
  } finally {
    client.close();
  }
}

/**
 * Cluster-name patterns (`dev-*`) matched against the caller's own clusters, the only ones these
 * commands act on without -u. A pattern that matches nothing is an error naming it. Clusters a
 * pattern matched are skipped where -a would skip them (stop: STOPPED, start: UP); names given
 * literally are kept as given.
 */
async function expandPatterns(client: SkyClient, command: LifecycleCommand, args: readonly string[]): Promise<string[]> {
  const { items } = await withServer(client, () => client.listClusters({ summary: true }));
  const { names, unmatched } = expandNames(args, items.map((c) => c.name));
  if (unmatched.length > 0) {
    const quoted = unmatched.map((p) => `'${p}'`).join(', ');
    throw new SkyError('CLUSTER_NOT_FOUND', `no cluster of yours matches ${quoted}`, { hint: 'See your clusters with: sky status', details: { patterns: unmatched } });
  }
  const literal = new Set(args.filter((a) => !isGlob(a)));
  const matched = items.filter((c) => names.includes(c.name) && !literal.has(c.name));
  const { names: kept, skipped } = selectForAll(command, matched);
  for (const name of skipped) print(`Cluster ${name} already has status UP.`);
  const keep = new Set([...kept, ...literal]);
  return names.filter((n) => keep.has(n));
}

/** `sky start -i N [--down]`: once a cluster is UP again, its autostop (or autodown) is set, as SkyPilot does. */
async function autostopAfterStart(client: SkyClient, names: readonly string[], options: CliOptions): Promise<number> {
  let code = 0;
  const autostop: CliOptions = { idleMinutes: options.idleMinutesToAutostop ?? 0, down: options.down };
  for (const name of names) {
    const { requestId } = await client.submit('autostop', autostopBody(name, autostop));
    const record = await client.waitUntilDone(requestId);
    if (record.status === 'SUCCEEDED') {
      for (const line of successLines('autostop', name, autostop)) print(line);
      continue;
    }
    const error = requestError(record);
    note(`Setting auto${options.down === true ? 'down' : 'stop'} on cluster ${name}...failed.`);
    note(`  Reason: ${error.message}`);
    code = 1;
  }
  return code;
}

function reasonOf(outcome: Outcome): { message: string; hint?: string } | undefined {
  if ('error' in outcome) return { message: outcome.error.message, hint: (outcome.error as { hint?: string }).hint };
  if (outcome.record.status === 'SUCCEEDED') return undefined;
  const error = requestError(outcome.record);
  return { message: error.message, hint: error.hint };
}

function report(command: LifecycleCommand, names: readonly string[], outcomes: ReadonlyMap<string, Outcome>, options: CliOptions): number {
  const { operation } = wording(command, options);
  const succeeded: string[] = [];
  const failed: Array<[string, string]> = [];
  for (const name of names) {
    const outcome = outcomes.get(name);
    if (outcome === undefined) continue; // --async: submitted, not waited for
    const reason = reasonOf(outcome);
    if (reason === undefined) {
      succeeded.push(name);
      for (const line of successLines(command, name, options)) print(line);
    } else {
      failed.push([name, reason.message]);
      note(`${operation} cluster ${name}...failed.`);
      note(`  Reason: ${reason.message}`);
      if (reason.hint !== undefined) note(`  hint: ${reason.hint}`);
    }
  }
  if (names.length > 1 && (succeeded.length > 0 || failed.length > 0)) {
    print('');
    print('Summary:');
    if (succeeded.length > 0) print(`  ✓ Succeeded: ${succeeded.join(', ')}`);
    for (const [name, message] of failed) print(`  ✗ Failed: ${name} (${message.split('\n')[0]})`);
  }
  return failed.length > 0 ? 1 : 0;
}
