// SkyPilot task fields sky does not implement yet. A task using one is refused with
// TASK_UNSUPPORTED ("not supported yet: <field>") — never silently ignored. This table is the one
// place that list lives; the schema looks every entry up here. `*` stands for any key.

export interface UnsupportedField {
  /** Field pattern as written in the task, `*` for any key. */
  field: string;
  /** What the field does in SkyPilot, shown in the error. */
  what: string;
}

export const UNSUPPORTED_FIELDS = [
  { field: 'config', what: 'per-task overrides of the SkyPilot config' },
  { field: 'experimental', what: 'experimental per-task config overrides' },
  { field: 'volumes', what: 'volumes mounted into the task' },
  { field: 'volume_mounts', what: 'volume mounts, an internal SkyPilot field' },
  { field: 'event_callback', what: 'a command run when the task changes state' },
  { field: 'managed_secrets', what: 'secrets kept by the SkyPilot API server' },
  { field: 'file_mounts_mapping', what: 'an internal SkyPilot field' },
  { field: 'api_server_access', what: 'API server credentials inside the task' },
  { field: '_metadata', what: 'an internal SkyPilot field' },
  { field: 'resources.volumes', what: 'volumes attached to the nodes' },
  { field: 'resources.max_hourly_cost', what: 'price cap for the optimizer' },
  { field: 'resources._internal', what: 'an internal SkyPilot field, not written in task files' },
  { field: 'file_mounts.*.name', what: 'object-store buckets and volumes as file mounts' },
  { field: 'file_mounts.*.store', what: 'object-store buckets and volumes as file mounts' },
  { field: 'file_mounts.*.persistent', what: 'object-store buckets and volumes as file mounts' },
  { field: 'file_mounts.*.config', what: 'volumes as file mounts' },
  { field: 'file_mounts.*.mount_options', what: 'mount options of bucket mounts' },
  { field: 'file_mounts.*.type', what: 'bucket and volume file mount types' },
  { field: 'file_mounts.*.mode', what: 'MOUNT and MOUNT_CACHED modes; only COPY is supported' },
  { field: 'file_mounts.*', what: 'bucket URIs such as s3:// or gs:// as file mount sources' },
  { field: 'service.tls', what: 'TLS on the load balancer; put a TLS-terminating proxy in front of the endpoint' },
  { field: 'service.pool', what: 'a service section describing a pool of workers; pools are made with sky jobs pool apply' },
  { field: 'service.replica_policy.num_overprovision', what: 'extra replicas launched beyond the autoscaler target' },
  { field: 'service.replica_policy.spot_fallback', what: 'spot replicas with on-demand fallback' },
  { field: 'pipelines', what: 'several YAML documents separated by ---; sky launch runs one task, sky jobs launch runs a pipeline' },
] as const satisfies readonly UnsupportedField[];

export type UnsupportedFieldName = (typeof UNSUPPORTED_FIELDS)[number]['field'];

export function unsupportedWhat(field: UnsupportedFieldName): string {
  const entry = UNSUPPORTED_FIELDS.find((e) => e.field === field);
  if (entry === undefined) throw new Error(`no such unsupported field: ${field}`);
  return entry.what;
}

/** `not supported yet: resources.max_hourly_cost (price cap for the optimizer)`. */
export function unsupportedMessage(field: UnsupportedFieldName, shownPath: string): string {
  return `not supported yet: ${shownPath} (${unsupportedWhat(field)})`;
}
