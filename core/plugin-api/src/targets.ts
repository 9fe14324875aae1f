import type { DriverCallOptions } from './driver.js';

/**
 * Optional driver extension (plugin API 1.6) for drivers whose infra is a set of named targets,
 * each its own control plane (Kubernetes contexts): `sky check <driver>` reports each target, and
 * `sky show-gpus --infra <driver>[/<target>]` lists the GPUs of its nodes.
 */

/** GPUs of one kind on a node of a target. */
export interface TargetGpus {
  /** Canonical name (`H100`, `A100-80GB`, …). */
  name: string;
  total: number;
  /** Not requested by any running or pending workload. */
  free: number;
}

/** One node (machine) of a target. */
export interface TargetNode {
  name: string;
  cpus: number;
  memoryGb: number;
  gpus: TargetGpus[];
  /** Whether workloads can be placed on it right now (ready and schedulable). */
  ready: boolean;
}

/** What checking one target found. */
export interface TargetCheck {
  /** The target's name as it appears in infra (`k8s/<name>`). */
  name: string;
  /** Whether its control plane answered. */
  reachable: boolean;
  /** Why it cannot be used, when it cannot. */
  error?: string;
  /** Where it is (a server URL); shown to admins only. */
  endpoint?: string;
  /** The namespace (or other scope) the driver works in there. */
  scope?: string;
  /** Permissions the driver needs there and lacks, one line each (`create pods in namespace x`). */
  missingPermissions: string[];
  /** What works less well there without making it unusable (an optional permission missing), one line each. */
  warnings?: string[];
  nodes: TargetNode[];
}

export interface TargetCheckExtension {
  /** Every target the driver may use (or only `target`), checked now. Never rejects for one target's failure. */
  checkTargets(target: string | undefined, opts: DriverCallOptions): Promise<TargetCheck[]>;
}

/** Whether a driver reports named targets. */
export function targetCheckExtension(driver: object): TargetCheckExtension | undefined {
  const d = driver as Partial<TargetCheckExtension>;
  return typeof d.checkTargets === 'function' ? (d as TargetCheckExtension) : undefined;
}
