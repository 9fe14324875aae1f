// A Task back in SkyPilot's YAML shape: what the CLI sends to the daemon, what --dryrun shows.
// Parsing the result again gives the same Task.
import { formatAccelerator } from './accelerators.js';
import { formatInfra } from './infra.js';
import { formatPort } from './ports.js';
import { formatQuantity } from './quantity.js';
import type { ServiceSpec } from '../services.js';
import type { ResourceFields, Task } from './types.js';

export interface ResourceFieldsConfig {
  infra?: string;
  cpus?: string;
  memory?: string;
  accelerators?: string | string[];
  instance_type?: string;
  use_spot?: boolean;
  disk_size?: number;
  image_id?: string | Record<string, string>;
  ports?: Array<number | string>;
  labels?: Record<string, string>;
  disk_tier?: string;
  network_tier?: string;
  local_disk?: string;
  accelerator_args?: Record<string, string | boolean>;
  priority_class?: string;
  autostop?: false | { idle_minutes: number; down: boolean };
  job_recovery?: { strategy: string | null; max_restarts_on_errors: number; recover_on_exit_codes: number[] };
}

export interface ResourcesConfig extends ResourceFieldsConfig {
  any_of?: ResourceFieldsConfig[];
  ordered?: ResourceFieldsConfig[];
}

/** The `service:` section in SkyPilot's shape, every default written out. */
export interface ServiceConfig {
  readiness_probe: { path: string; post_data?: unknown; initial_delay_seconds: number; timeout_seconds: number; headers?: Record<string, string> };
  replica_policy: {
    min_replicas: number;
    max_replicas: number;
    target_qps_per_replica?: number;
    upscale_delay_seconds: number;
    downscale_delay_seconds: number;
  };
  ports: number;
  load_balancing_policy: string;
}

export interface TaskConfig {
  name?: string;
  workdir?: string | { url: string; ref?: string };
  num_nodes?: number;
  resources?: ResourcesConfig;
  envs?: Record<string, string | null>;
  secrets?: Record<string, string | null>;
  file_mounts?: Record<string, string>;
  setup?: string;
  run?: string;
  service?: ServiceConfig;
}

export function serviceToConfig(s: ServiceSpec): ServiceConfig {
  const probe: ServiceConfig['readiness_probe'] = { path: s.readinessProbe.path, initial_delay_seconds: s.readinessProbe.initialDelaySeconds, timeout_seconds: s.readinessProbe.timeoutSeconds };
  if (s.readinessProbe.postData !== undefined) probe.post_data = s.readinessProbe.postData;
  if (Object.keys(s.readinessProbe.headers).length > 0) probe.headers = { ...s.readinessProbe.headers };
  const p = s.replicaPolicy;
  const policy: ServiceConfig['replica_policy'] = { min_replicas: p.minReplicas, max_replicas: p.maxReplicas, upscale_delay_seconds: p.upscaleDelaySeconds, downscale_delay_seconds: p.downscaleDelaySeconds };
  if (p.targetQpsPerReplica !== undefined) policy.target_qps_per_replica = p.targetQpsPerReplica;
  return { readiness_probe: probe, replica_policy: policy, ports: s.port, load_balancing_policy: s.loadBalancingPolicy };
}

function fieldsConfig(r: ResourceFields): ResourceFieldsConfig {
  const out: ResourceFieldsConfig = {};
  const infra = r.infra === undefined ? undefined : formatInfra(r.infra);
  if (infra !== undefined) out.infra = infra;
  if (r.cpus !== undefined) out.cpus = formatQuantity(r.cpus);
  if (r.memory !== undefined) out.memory = formatQuantity(r.memory);
  if (r.accelerators !== undefined) {
    const list = r.accelerators.map(formatAccelerator);
    out.accelerators = list.length === 1 ? list[0]! : list;
  }
  if (r.instance_type !== undefined) out.instance_type = r.instance_type;
  if (r.use_spot !== undefined) out.use_spot = r.use_spot;
  if (r.disk_size !== undefined) out.disk_size = r.disk_size;
  if (r.image_id !== undefined) out.image_id = typeof r.image_id === 'string' ? r.image_id : { ...r.image_id };
  if (r.ports !== undefined) out.ports = r.ports.map(formatPort);
  if (r.labels !== undefined) out.labels = { ...r.labels };
  if (r.disk_tier !== undefined) out.disk_tier = r.disk_tier;
  if (r.network_tier !== undefined) out.network_tier = r.network_tier;
  if (r.local_disk !== undefined) out.local_disk = r.local_disk;
  if (r.accelerator_args !== undefined) out.accelerator_args = { ...r.accelerator_args };
  if (r.priority_class !== undefined) out.priority_class = r.priority_class;
  if (r.autostop !== undefined) out.autostop = r.autostop === false ? false : { idle_minutes: r.autostop.idleMinutes, down: r.autostop.down };
  if (r.job_recovery !== undefined) {
    const j = r.job_recovery;
    out.job_recovery = { strategy: j.strategy, max_restarts_on_errors: j.maxRestartsOnErrors, recover_on_exit_codes: [...j.recoverOnExitCodes] };
  }
  return out;
}

/** The task in SkyPilot's YAML shape; empty sections are left out. */
export function taskToConfig(task: Task): TaskConfig {
  const out: TaskConfig = {};
  if (task.name !== undefined) out.name = task.name;
  if (task.workdir !== undefined) out.workdir = task.workdir;
  else if (task.workdirGit !== undefined) out.workdir = { ...task.workdirGit };
  if (task.num_nodes !== 1) out.num_nodes = task.num_nodes;
  const resources: ResourcesConfig = fieldsConfig(task.resources);
  if (task.resources.any_of !== undefined) resources.any_of = task.resources.any_of.map(fieldsConfig);
  if (task.resources.ordered !== undefined) resources.ordered = task.resources.ordered.map(fieldsConfig);
  if (Object.keys(resources).length > 0) out.resources = resources;
  if (Object.keys(task.envs).length > 0) out.envs = { ...task.envs };
  if (Object.keys(task.secrets).length > 0) out.secrets = { ...task.secrets };
  if (Object.keys(task.file_mounts).length > 0) out.file_mounts = { ...task.file_mounts };
  if (task.setup !== undefined) out.setup = task.setup;
  if (task.run !== undefined) out.run = task.run;
  if (task.service !== undefined) out.service = serviceToConfig(task.service);
  return out;
}
