import {
  cancelCommand,
  followCommand,
  jobDir,
  jobFiles,
  journalPath,
  nodeScriptPath,
  parseStartOutput,
  parseStatusOutput,
  PRIVATE_JOB_FILES,
  rankDirName,
  RUNTIME_VERSION,
  runtimeScript,
  startCommand,
  statusCommand,
  versionCommand,
  type JobSpec as RankSpec,
  type JobState,
} from '@sky/runtime';
import { SkyError, toSkyError, type NodeRecord } from '@sky/protocol';
import type { NodeTransport } from './transport.js';
import { LocalTransport } from './local-transport.js';
import { LocalStatusBatch } from './local-status-batch.js';

export type { RankSpec, JobState };

/** One rank of a job on a node, as the runtime that started it names it. */
export interface RankRef {
  /** The job's name (`<clusterId>-<jobId>`). */
  job: string;
  rank: number;
  /** The runtime version that started it (1: one directory per job, read with the version-1 script). */
  version: number;
}

function failed(what: string, node: string, out: { code: number; stderr: string; stdout: string }): SkyError {
  const detail = (out.stderr || out.stdout).trim().split('\n').slice(-5).join(' | ');
  return new SkyError('NODE_RUNTIME_ERROR', `${what} on node ${node} failed (exit ${out.code})${detail ? `: ${detail}` : ''}`);
}

/**
 * The name of a node's event journal: the node as the daemon reaches it, so hosts that share a
 * home directory (and a pool host serving many clusters) each have one journal of their own.
 */
export function journalKey(node: Pick<NodeRecord, 'reach'>): string {
  const reach = node.reach;
  if (reach.kind === 'local') return 'local';
  return `${reach.user}@${reach.host}_${reach.port}`.replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 120);
}

/**
 * Uploads the node runtime and drives it: start, status, cancel and follow of job ranks. Each
 * runtime version has its own script path on the node; the current one is installed on a node's
 * first use by this daemon, and ranks started by an older version are read and cancelled with
 * the script of theirs, which stays where it was.
 */
export class NodeRuntime {
  private script: Promise<string> | undefined;
  /** Transports whose node has the current script (checked once per daemon run). */
  private readonly ready = new WeakMap<NodeTransport, Promise<void>>();

  /** Upload the runtime script unless the node already has this version. */
  async install(transport: NodeTransport, node: string): Promise<void> {
    const script = nodeScriptPath();
    this.script ??= runtimeScript();
    // A node on this machine is checked by reading the script back (no process per node, which
    // matters when hundreds of local clusters are launched at once); others by asking it.
    if (transport instanceof LocalTransport) {
      const wanted = Buffer.from(await this.script);
      const found = await transport.readFrom(script, 0, wanted.length + 1);
      if (found.size === wanted.length && found.data.equals(wanted)) {
        this.ready.set(transport, Promise.resolve());
        return;
      }
    }
    const probe = await transport.run(`${versionCommand({ script })} 2>/dev/null`);
    if (probe.code === 0 && probe.stdout.trim() === String(RUNTIME_VERSION)) {
      this.ready.set(transport, Promise.resolve());
      return;
    }
    const path = script.split('/');
    const name = path.pop()!;
    await transport.writeFiles(path.join('/'), { [name]: await this.script });
    const check = await transport.run(versionCommand({ script }));
    if (check.code !== 0 || check.stdout.trim() !== String(RUNTIME_VERSION)) throw failed('installing the node runtime', node, check);
    this.ready.set(transport, Promise.resolve());
  }

  /** install, once per transport and daemon run (a node provisioned by an older daemon is upgraded on its next use). */
  ensureInstalled(transport: NodeTransport, node: string): Promise<void> {
    let done = this.ready.get(transport);
    if (done === undefined) {
      done = this.install(transport, node);
      this.ready.set(transport, done);
      done.catch(() => this.ready.delete(transport));
    }
    return done;
  }

  /** A rank's directory, relative to the node root. */
  dirOf(ref: RankRef): string {
    return ref.version === 1 ? jobDir('', ref.job) : jobDir('', rankDirName(ref.job, ref.rank));
  }

  /** The node's journal, relative to the node root. */
  journalOf(node: Pick<NodeRecord, 'reach'>): string {
    return journalPath('', journalKey(node));
  }

  /**
   * Write one rank's files (in the rank's own directory, named after `spec.jobId` and the rank)
   * and start it detached with the current runtime, its events going to `journal` (see
   * journalOf); resolves with the runner's pid.
   */
  async start(transport: NodeTransport, node: string, spec: RankSpec, journal: string): Promise<number> {
    await this.ensureInstalled(transport, node);
    const dir = this.dirOf({ job: spec.jobId, rank: spec.rank, version: RUNTIME_VERSION });
    if (transport instanceof LocalTransport) return this.startLocally(transport, dir, spec, journal);
    await transport.writeFiles(dir, jobFiles(spec), PRIVATE_JOB_FILES);
    const out = await transport.run(startCommand(dir, journal, { script: nodeScriptPath() }));
    if (out.code !== 0) throw failed(`starting job ${spec.jobId} rank ${spec.rank}`, node, out);
    return parseStartOutput(out.stdout);
  }

  /**
   * `start` on a local node, without a shell per rank: the files are written by the daemon and
   * the node's launcher starts the runner (as `start` does, a rank with a pid already is not
   * started again).
   */
  private async startLocally(transport: LocalTransport, dir: string, spec: RankSpec, journal: string): Promise<number> {
    await transport.writeFiles(dir, { ...jobFiles(spec), status: 'PENDING\n' }, PRIVATE_JOB_FILES);
    return transport.startRank(dir, journal, nodeScriptPath());
  }

  /** Status reads of local nodes made in one turn of the event loop, answered by one command. */
  private readonly localStatus = new LocalStatusBatch();

  /**
   * The ranks' states, in order (one command per runtime version among them). A node that no
   * longer holds the runtime its ranks were started with was wiped (a machine reinstalled, a local
   * node's files removed): that is NODE_UNREACHABLE, as for a node that does not answer, so its
   * jobs fail once the grace period has passed instead of the read failing forever.
   */
  status(transport: NodeTransport, node: string, ranks: readonly RankRef[]): Promise<JobState[]> {
    return this.byVersion(ranks, async (version, dirs) => {
      try {
        if (transport instanceof LocalTransport) return await this.localStatus.read(transport, version, dirs);
        const out = await transport.run(statusCommand(dirs, { script: nodeScriptPath(version) }));
        if (out.code !== 0) throw failed('reading job status', node, out);
        return parseStatusOutput(out.stdout, dirs.length);
      } catch (err) {
        if (toSkyError(err)?.code !== 'NODE_RUNTIME_ERROR') throw err;
        const script = await transport.readFrom(nodeScriptPath(version), 0, 1).catch(() => undefined);
        if (script?.size !== -1) throw err;
        throw new SkyError('NODE_UNREACHABLE', `node ${node} no longer has the sky runtime its jobs were started with (${nodeScriptPath(version)} is gone): the node was wiped`, {
          cause: err,
        });
      }
    });
  }

  cancel(transport: NodeTransport, node: string, ranks: readonly RankRef[]): Promise<JobState[]> {
    return this.byVersion(ranks, async (version, dirs) => {
      const out = await transport.run(cancelCommand(dirs, { script: nodeScriptPath(version) }));
      if (out.code !== 0) throw failed('cancelling jobs', node, out);
      return parseStatusOutput(out.stdout, dirs.length);
    });
  }

  /** The command that prints a node's journal from `offset` on and keeps following it. */
  followCommand(node: Pick<NodeRecord, 'reach'>, offset: number): string {
    return followCommand(this.journalOf(node), offset, { script: nodeScriptPath() });
  }

  logPath(ref: RankRef): string {
    return `${this.dirOf(ref)}/log`;
  }

  private async byVersion(ranks: readonly RankRef[], run: (version: number, dirs: string[]) => Promise<JobState[]>): Promise<JobState[]> {
    const answer: JobState[] = new Array<JobState>(ranks.length);
    const versions = [...new Set(ranks.map((r) => r.version))];
    for (const version of versions) {
      const indexes = ranks.flatMap((r, i) => (r.version === version ? [i] : []));
      const states = await run(
        version,
        indexes.map((i) => this.dirOf(ranks[i]!)),
      );
      indexes.forEach((i, k) => (answer[i] = states[k]!));
    }
    return answer;
  }
}
