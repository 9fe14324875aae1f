// Which resource fields a driver honours, ignores with a warning, or refuses. One function decides,
// and both `sky launch --dryrun` and the real launch call it, so the plan never promises what the
// launch then refuses. Drivers that sky ships (local, ssh) run on machines that already exist:
// they cannot pick instance types, boot images, regions or spot capacity.
import { formatInfra } from './infra.js';
import type { ResourceFields } from './types.js';

export interface FieldDecision {
  /** Fields accepted but without meaning on this driver: one line each, printed by the client. */
  warnings: string[];
  /** Why this driver cannot satisfy the fields, one line each; empty when it can. */
  refusals: string[];
}

/** Drivers whose nodes are machines that already exist (no provisioning of instances). */
const EXISTING_MACHINES = new Set(['local', 'ssh']);

function imageRefusal(driver: string, image: string | Record<string, string>): string {
  const text = typeof image === 'string' ? image : JSON.stringify(image);
  if (typeof image === 'string' && image.startsWith('docker:')) {
    return `${driver} cannot run the task in a container image (image_id: ${text}); remove image_id and install what the task needs in setup`;
  }
  return `${driver} cannot boot a machine image (image_id: ${text}); remove image_id`;
}

/** The decision for one resource candidate on one driver. */
export function decideFields(fields: ResourceFields, driver: string): FieldDecision {
  const warnings: string[] = [];
  const refusals: string[] = [];
  if (fields.job_recovery !== undefined) warnings.push('resources.job_recovery: only managed jobs recover (sky jobs launch); ignored by sky launch');
  if (driver === 'k8s') return decideKubernetes(fields, warnings, refusals);
  if (!EXISTING_MACHINES.has(driver)) return { warnings, refusals };
  if (fields.instance_type !== undefined) {
    refusals.push(`${driver} cannot pick an instance type (instance_type: ${fields.instance_type}); ask for cpus, memory and accelerators instead`);
  }
  if (fields.image_id !== undefined) refusals.push(imageRefusal(driver, fields.image_id));
  if (fields.use_spot === true) refusals.push(`${driver} cannot provide spot capacity (use_spot: true); remove use_spot`);
  const infra = fields.infra;
  if (driver === 'local' && (infra?.region !== undefined || infra?.zone !== undefined)) {
    refusals.push(`local cannot place nodes in a region or zone (infra: ${formatInfra(infra ?? {}) ?? ''}); use infra: local`);
  }
  const meaningless: Array<[string, unknown]> = [
    ['disk_tier', fields.disk_tier],
    ['network_tier', fields.network_tier],
    ['local_disk', fields.local_disk],
    ['accelerator_args', fields.accelerator_args],
    ['priority_class', fields.priority_class],
  ];
  for (const [name, value] of meaningless) {
    if (value !== undefined) warnings.push(`resources.${name}: has no meaning on the ${driver} driver (its nodes are existing machines); ignored`);
  }
  return { warnings, refusals };
}

/** Kubernetes nodes are pods: a container image (`docker:`) is their image; machine images, instance types and spot are not. */
function decideKubernetes(fields: ResourceFields, warnings: string[], refusals: string[]): FieldDecision {
  const image = fields.image_id;
  if (image !== undefined) {
    if (typeof image !== 'string') {
      refusals.push(`k8s takes one container image, not one per region (image_id: ${JSON.stringify(image)}); write image_id: docker:<image>`);
    } else if (!image.startsWith('docker:') || image.length === 'docker:'.length) {
      refusals.push(`k8s runs nodes as pods and needs a container image (image_id: ${image}); write image_id: docker:<image>`);
    }
  }
  if (fields.instance_type !== undefined) {
    refusals.push(`k8s cannot pick an instance type (instance_type: ${fields.instance_type}); ask for cpus, memory and accelerators instead`);
  }
  if (fields.use_spot === true) refusals.push('k8s has no spot capacity (use_spot: true); remove use_spot');
  if (fields.infra?.zone !== undefined) refusals.push(`k8s has contexts, not zones (infra: ${formatInfra(fields.infra) ?? ''}); use infra: k8s/<context>`);
  for (const [name, value] of [
    ['disk_tier', fields.disk_tier],
    ['network_tier', fields.network_tier],
    ['local_disk', fields.local_disk],
  ] as const) {
    if (value !== undefined) warnings.push(`resources.${name}: has no meaning on the k8s driver (nodes are pods); ignored`);
  }
  return { warnings, refusals };
}
