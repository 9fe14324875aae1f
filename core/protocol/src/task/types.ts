// The normalized task: what sky works with after a SkyPilot task YAML (or its JSON twin) has been
// validated. Field names follow the YAML so the mapping stays obvious; values are structured.
import type { ServiceSpec } from '../services.js';

/** A CPU or memory request: `4` is exactly 4, `4+` is at least 4. Memory is in GB (2^30 bytes). */
export interface Quantity {
  min: number;
  orMore: boolean;
}

/** One accelerator choice: `H100:8` is `{ name: 'H100', count: 8 }`. Counts below 1 are fractions of one device. */
export interface Accelerator {
  name: string;
  count: number;
}

/** An inclusive port range; a single port has `from === to`. */
export interface PortRange {
  from: number;
  to: number;
}

/**
 * Where to run, from `infra: <cloud>/<region>/<zone>` (e.g. `aws/us-east-1`, `local`). For `k8s` the
 * second part is the Kubernetes context and for `ssh` the node pool; both are kept in `region`.
 * A `*` wildcard leaves its part undefined.
 */
export interface Infra {
  cloud?: string;
  region?: string;
  zone?: string;
}

/** The resource fields one node asks for (also the shape of each `any_of` / `ordered` candidate). */
export interface ResourceFields {
  infra?: Infra;
  cpus?: Quantity;
  memory?: Quantity;
  /** Alternatives, tried in the order written; one entry when a single accelerator is asked for. */
  accelerators?: Accelerator[];
  instance_type?: string;
  use_spot?: boolean;
  /** OS disk size in whole GB. */
  disk_size?: number;
  /** An image id, or one per region. */
  image_id?: string | Record<string, string>;
  ports?: PortRange[];
  labels?: Record<string, string>;
  /** Cloud disk performance tier (low, medium, high, ultra, best); meaningful only where a driver picks disks. */
  disk_tier?: string;
  /** Cloud network tier (standard, best); meaningful only where a driver picks networks. */
  network_tier?: string;
  /** SkyPilot's instance-local disks (`nvme:2`); no meaning on existing machines. */
  local_disk?: string;
  /** TPU arguments; meaningful only on a driver with TPUs. */
  accelerator_args?: Record<string, string | boolean>;
  /** Kubernetes priority class; meaningful only on a Kubernetes driver. */
  priority_class?: string;
  /** The cluster's autostop as written in the task: `false` turns it off. */
  autostop?: TaskAutostop | false;
  /** How a managed job recovers; `sky launch` ignores it (with a warning). */
  job_recovery?: JobRecovery;
}

export type RecoveryStrategy = 'FAILOVER' | 'EAGER_NEXT_REGION';

/** resources.job_recovery, normalized. */
export interface JobRecovery {
  /** null: `none` (a lost node still relaunches the task: managed jobs always recover from lost nodes). */
  strategy: RecoveryStrategy | null;
  /** Relaunches after the task's own failure (non-zero exit), 0 by default. */
  maxRestartsOnErrors: number;
  /** Exit codes relaunched whatever maxRestartsOnErrors says (under the daemon's ceiling). */
  recoverOnExitCodes: number[];
}

/** resources.autostop: stop (or tear down) the cluster after it has been idle this long. */
export interface TaskAutostop {
  idleMinutes: number;
  down: boolean;
}

/** Per-node resources: defaults, plus optional candidates that override them. */
export interface Resources extends ResourceFields {
  /** Candidates in any order (sky tries them as written). */
  any_of?: ResourceFields[];
  /** Candidates tried strictly in order. */
  ordered?: ResourceFields[];
}

export interface GitWorkdir {
  /** Anything `git clone` takes: https://, ssh, git@host:path, file://. */
  url: string;
  /** A branch, tag or commit; the default branch when absent. */
  ref?: string;
}

export interface Task {
  name?: string;
  /** Local directory synced to ~/sky_workdir on every node. */
  workdir?: string;
  /**
   * SkyPilot's git workdir (`workdir: {url, ref}`): the client clones it and sends the clone as
   * `workdir`, so nodes need no git and the client's own git credentials are used.
   */
  workdirGit?: GitWorkdir;
  num_nodes: number;
  resources: Resources;
  /**
   * Environment variables. `null` means "required, no default": the value must come from
   * `--env NAME=VALUE` (see applyOverrides), as in SkyPilot.
   */
  envs: Record<string, string | null>;
  /** Like envs, but redacted wherever sky shows the task. `null`: must come from `--secret NAME`. */
  secrets: Record<string, string | null>;
  /** Remote path → local source path (copied to every node). */
  file_mounts: Record<string, string>;
  setup?: string;
  run?: string;
  /** Secrets given as a list of names: their values come from the client's environment, as in SkyPilot. */
  secretsFromEnvironment?: string[];
  /** The `service:` section, normalized: what `sky serve up` runs the task as (sky launch runs the task once without it). */
  service?: ServiceSpec;
  /** Fields SkyPilot accepts whose meaning does not apply to sky launch, one warning each (`service: ignored by …`). */
  ignored?: string[];
}
