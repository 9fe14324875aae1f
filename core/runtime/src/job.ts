import { SkyError } from '@sky/protocol';
import { EVENTS_DIR, JOBS_DIR } from './script.js';

/** Where a job stands on one node, as the runtime records it. */
export const NODE_JOB_STATUSES = ['PENDING', 'SETTING_UP', 'RUNNING', 'SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'] as const;
export type NodeJobStatus = (typeof NODE_JOB_STATUSES)[number];
/** `MISSING`: the node has no such job directory (wiped, or never written). */
export type RuntimeJobStatus = NodeJobStatus | 'MISSING';
export const FINAL_JOB_STATUSES: readonly NodeJobStatus[] = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'];

export function isFinalJobStatus(status: RuntimeJobStatus): boolean {
  return status === 'MISSING' || (FINAL_JOB_STATUSES as readonly string[]).includes(status);
}

export type JsonLike = null | boolean | number | string | JsonLike[] | { [key: string]: JsonLike };

/** SKYPILOT_CLUSTER_INFO, as SkyPilot shapes it. */
export interface ClusterInfo {
  cluster_name: string;
  cloud: string;
  region: string | null;
  zone: string | null;
  [key: string]: JsonLike;
}

/** One rank of one job. */
export interface JobSpec {
  /** The job's directory name on the node: letters, digits, `.`, `_`, `-`. */
  jobId: string;
  /** This node's rank: 0 is the head. */
  rank: number;
  /** Every node's address, by rank (SKYPILOT_NODE_IPS, one per line). */
  nodeIps: string[];
  /** SKYPILOT_TASK_ID. */
  taskId: string;
  /** SKYPILOT_CLUSTER_INFO. */
  clusterInfo: ClusterInfo;
  /** Setup commands; runs first, and a failure ends the job as FAILED_SETUP. Absent: no setup step. */
  setup?: string;
  /** Run commands. Absent: the job succeeds once setup has. */
  run?: string;
  /** The task's envs. */
  envs?: Record<string, string>;
  /** The task's secrets (win over envs). The env file is written with mode 0600. */
  secrets?: Record<string, string>;
  /** Exported as HOME. Local nodes pass their directory, so tasks see `~` as the node. */
  home?: string;
  /** Variables sky sets for this node, e.g. CUDA_VISIBLE_DEVICES (win over envs and secrets). */
  extraEnv?: Record<string, string>;
  /** SKYPILOT_NUM_GPUS_PER_NODE: the GPUs the job holds on each node (absent: 0, as SkyPilot sets it without GPUs). */
  numGpusPerNode?: number;
  /** SKYPILOT_USER: the name of the sky user who submitted the job (absent: not set). */
  user?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function invalid(message: string, field: string): SkyError {
  return new SkyError('VALIDATION_FAILED', `node runtime: ${message}`, { details: { field } });
}

/** Quote a value for a POSIX shell: single quotes, with `'` written as `'\''`. Any bytes but NUL survive. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** `<nodeRoot>/.sky/jobs/<jobId>` (nodeRoot '' or '.' gives a path relative to the node root). */
export function jobDir(nodeRoot: string, jobId: string): string {
  if (!JOB_ID.test(jobId) || jobId.includes('..')) throw invalid(`job id ${JSON.stringify(jobId)} cannot be a directory name`, 'jobId');
  const root = nodeRoot.replace(/\/+$/, '');
  return root === '' || root === '.' ? `${JOBS_DIR}/${jobId}` : `${root}/${JOBS_DIR}/${jobId}`;
}

/**
 * The directory name of one rank of a job: `<job>-r<rank>`. Every rank has its own directory,
 * so ranks on hosts that share one home directory never write the same files.
 */
export function rankDirName(job: string, rank: number): string {
  if (!Number.isInteger(rank) || rank < 0) throw invalid(`rank ${rank} is not a whole number`, 'rank');
  const name = `${job}-r${rank}`;
  jobDir('', name);
  return name;
}

const NODE_KEY = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/**
 * `<nodeRoot>/.sky/events/<nodeKey>.log`: a node's event journal. The key names the node as the
 * daemon reaches it (e.g. `user@host_22`), so hosts that share a home directory keep apart.
 */
export function journalPath(nodeRoot: string, nodeKey: string): string {
  if (!NODE_KEY.test(nodeKey) || nodeKey.includes('..')) throw invalid(`node key ${JSON.stringify(nodeKey)} cannot be a file name`, 'nodeKey');
  const root = nodeRoot.replace(/\/+$/, '');
  return root === '' || root === '.' ? `${EVENTS_DIR}/${nodeKey}.log` : `${root}/${EVENTS_DIR}/${nodeKey}.log`;
}

/** The variables a job rank sees, in the order they are set (later ones win). */
export function jobEnv(spec: JobSpec): Map<string, string> {
  if (spec.nodeIps.length === 0) throw invalid('nodeIps is empty: a job runs on at least one node', 'nodeIps');
  if (!Number.isInteger(spec.rank) || spec.rank < 0 || spec.rank >= spec.nodeIps.length) {
    throw invalid(`rank ${spec.rank} is not one of the ${spec.nodeIps.length} nodes`, 'rank');
  }
  const vars = new Map<string, string>();
  const add = (source: string, entries: Record<string, string> | undefined): void => {
    for (const [name, value] of Object.entries(entries ?? {})) {
      if (!ENV_NAME.test(name)) throw invalid(`${source} name ${JSON.stringify(name)} is not a valid environment variable name`, `${source}.${name}`);
      if (typeof value !== 'string') throw invalid(`${source}.${name} must be a string`, `${source}.${name}`);
      if (value.includes('\0')) throw invalid(`${source}.${name} contains a NUL byte, which no environment variable can hold`, `${source}.${name}`);
      vars.delete(name);
      vars.set(name, value);
    }
  };
  add('envs', spec.envs);
  add('secrets', spec.secrets);
  add('extraEnv', spec.extraEnv);
  const ips = spec.nodeIps.join('\n');
  const sky: Record<string, string> = {};
  if (spec.home !== undefined) sky['HOME'] = spec.home;
  Object.assign(sky, {
    SKYPILOT_NODE_RANK: String(spec.rank),
    SKYPILOT_NODE_IPS: ips,
    SKYPILOT_NUM_NODES: String(spec.nodeIps.length),
    SKYPILOT_SETUP_NODE_RANK: String(spec.rank),
    SKYPILOT_SETUP_NODE_IPS: ips,
    SKYPILOT_TASK_ID: spec.taskId,
    SKYPILOT_CLUSTER_INFO: JSON.stringify(spec.clusterInfo),
  });
  const gpus = spec.numGpusPerNode ?? 0;
  if (!Number.isInteger(gpus) || gpus < 0) throw invalid(`numGpusPerNode ${gpus} is not a whole number`, 'numGpusPerNode');
  sky['SKYPILOT_NUM_GPUS_PER_NODE'] = String(gpus);
  if (spec.user !== undefined) sky['SKYPILOT_USER'] = spec.user;
  add('sky', sky);
  return vars;
}

/** An env file: one `KEY='value'` line per variable (values may span lines), for `set -a; . env`. */
export function envFile(vars: Map<string, string> | Record<string, string>): string {
  const entries = vars instanceof Map ? [...vars] : Object.entries(vars);
  const lines = entries.map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw invalid(`${JSON.stringify(name)} is not a valid environment variable name`, name);
    return `${name}=${shellQuote(value)}`;
  });
  return `# Written by sky for sky-node.sh; sourced with set -a.\n${lines.join('\n')}\n`;
}

/** Files of a job that hold secrets: write them with mode 0600. */
export const PRIVATE_JOB_FILES: readonly string[] = ['env'];

/**
 * The files to write into the job's directory before `startCommand`, by path relative to it:
 * `env`, `setup.sh` (only when there is a setup) and `run.sh`.
 */
export function jobFiles(spec: JobSpec): Record<string, string> {
  jobDir('', spec.jobId);
  const files: Record<string, string> = { env: envFile(jobEnv(spec)) };
  if (spec.setup !== undefined && spec.setup.trim() !== '') files['setup.sh'] = withNewline(spec.setup);
  files['run.sh'] = spec.run !== undefined && spec.run.trim() !== '' ? withNewline(spec.run) : '# no run commands\n:\n';
  return files;
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
