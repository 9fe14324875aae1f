import type { ReplicaPolicy } from '@sky/protocol';

/**
 * The QPS autoscaler of one service: it wants ceil(qps / target_qps_per_replica) replicas,
 * bounded by min and max, and moves the target only once that wish has held for the upscale
 * (or downscale) delay without a break, so a short burst or lull changes nothing.
 */
export class Autoscaler {
  private upSince: number | undefined;
  private downSince: number | undefined;

  /** The number of replicas wanted now, given the current target and the measured QPS. */
  decide(policy: ReplicaPolicy, current: number, qps: number, now: number): number {
    const floor = Math.min(policy.minReplicas, policy.maxReplicas);
    if (policy.targetQpsPerReplica === undefined) return floor;
    const wished = Math.min(policy.maxReplicas, Math.max(floor, Math.ceil(qps / policy.targetQpsPerReplica)));
    const bounded = Math.min(policy.maxReplicas, Math.max(floor, current));
    if (wished > bounded) {
      this.downSince = undefined;
      this.upSince ??= now;
      return now - this.upSince >= policy.upscaleDelaySeconds * 1000 ? this.reset(wished) : bounded;
    }
    if (wished < bounded) {
      this.upSince = undefined;
      this.downSince ??= now;
      return now - this.downSince >= policy.downscaleDelaySeconds * 1000 ? this.reset(wished) : bounded;
    }
    this.upSince = undefined;
    this.downSince = undefined;
    return bounded;
  }

  private reset(to: number): number {
    this.upSince = undefined;
    this.downSince = undefined;
    return to;
  }
}
