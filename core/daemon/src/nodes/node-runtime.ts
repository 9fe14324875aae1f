import {
  cancelCommand,
  jobDir,
  jobFiles,
  NODE_SCRIPT_PATH,
  parseStartOutput,
  parseStatusOutput,
  PRIVATE_JOB_FILES,
  RUNTIME_VERSION,
  runtimeScript,
  startCommand,
  statusCommand,
  versionCommand,
  type JobSpec as RankSpec,
  type JobState,
} from '@sky/runtime';
import { SkyError } from '@sky/protocol';
import type { NodeTransport } from './transport.js';

export type { RankSpec, JobState };

function failed(what: string, node: string, out: { code: number; stderr: string; stdout: string }): SkyError {
  const detail = (out.stderr || out.stdout).trim().split('\n').slice(-5).join(' | ');
  return new SkyError('NODE_RUNTIME_ERROR', `${what} on node ${node} failed (exit ${out.code})${detail ? `: ${detail}` : ''}`);
}

/** Uploads the node runtime and drives it: start, status and cancel of job ranks. */
export class NodeRuntime {
  private script: Promise<string> | undefined;

  /** Upload the runtime script unless the node already has this version. */
  async install(transport: NodeTransport, node: string): Promise<void> {
    const probe = await transport.run(`${versionCommand()} 2>/dev/null`);
    if (probe.code === 0 && probe.stdout.trim() === String(RUNTIME_VERSION)) return;
    this.script ??= runtimeScript();
    const path = NODE_SCRIPT_PATH.split('/');
    const name = path.pop()!;
    await transport.writeFiles(path.join('/'), { [name]: await this.script });
    const check = await transport.run(versionCommand());
    if (check.code !== 0 || check.stdout.trim() !== String(RUNTIME_VERSION)) throw failed('installing the node runtime', node, check);
  }

  dirOf(jobName: string): string {
    return jobDir('', jobName);
  }

  /** Write one rank's files and start it detached; resolves with the runner's pid. */
  async start(transport: NodeTransport, node: string, spec: RankSpec): Promise<number> {
    const dir = this.dirOf(spec.jobId);
    await transport.writeFiles(dir, jobFiles(spec), PRIVATE_JOB_FILES);
    const out = await transport.run(startCommand(dir));
    if (out.code !== 0) throw failed(`starting job ${spec.jobId}`, node, out);
    return parseStartOutput(out.stdout);
  }

  async status(transport: NodeTransport, node: string, jobNames: readonly string[]): Promise<JobState[]> {
    const dirs = jobNames.map((j) => this.dirOf(j));
    const out = await transport.run(statusCommand(dirs));
    if (out.code !== 0) throw failed('reading job status', node, out);
    return parseStatusOutput(out.stdout, dirs.length);
  }

  async cancel(transport: NodeTransport, node: string, jobNames: readonly string[]): Promise<JobState[]> {
    const dirs = jobNames.map((j) => this.dirOf(j));
    const out = await transport.run(cancelCommand(dirs));
    if (out.code !== 0) throw failed('cancelling jobs', node, out);
    return parseStatusOutput(out.stdout, dirs.length);
  }

  logPath(jobName: string): string {
    return `${this.dirOf(jobName)}/log`;
  }
}
