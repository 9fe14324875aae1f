// Every field of SkyPilot's task schema (sky/utils/schemas.py: get_task_schema and
// get_resources_schema) with sky's answer for `sky launch`. skypilot-fields.test.ts checks each
// row through the parser and the driver decision that the dry run and the launch share.
//
//   honoured  — parsed and acted on (no warning, no refusal on the driver named)
//   warned    — accepted; a warning matching `pattern` is printed, the field has no effect
//   refused   — the task is refused with a message matching `pattern`

export type Answer = 'honoured' | 'warned' | 'refused';

export interface FieldRow {
  /** The field as SkyPilot's schema names it. */
  field: string;
  /** A task using the field (YAML). */
  yaml: string;
  answer: Answer;
  /** Driver the launch is decided on; `local` unless named. */
  driver?: string;
  pattern?: RegExp;
}

const res = (body: string): string => `resources:\n${body.replace(/^/gm, '  ')}\nrun: echo hi\n`;

export const TASK_FIELD_ROWS: FieldRow[] = [
  { field: 'name', yaml: 'name: train\nrun: echo hi\n', answer: 'honoured' },
  { field: 'workdir', yaml: 'workdir: .\nrun: echo hi\n', answer: 'honoured' },
  { field: 'workdir (git url/ref)', yaml: 'workdir:\n  url: https://example.com/r.git\n  ref: main\nrun: echo hi\n', answer: 'honoured' },
  { field: 'event_callback', yaml: 'event_callback: echo done\nrun: echo hi\n', answer: 'refused', pattern: /not supported yet: event_callback/ },
  { field: 'num_nodes', yaml: 'num_nodes: 2\nrun: echo hi\n', answer: 'honoured' },
  { field: 'resources', yaml: 'resources:\n  cpus: 1\nrun: echo hi\n', answer: 'honoured' },
  { field: 'file_mounts', yaml: 'file_mounts:\n  /data: ./data\n  out: ./out\nrun: echo hi\n', answer: 'honoured' },
  { field: 'service', yaml: 'service:\n  readiness_probe: /\n  replicas: 2\n  ports: 8080\nrun: echo hi\n', answer: 'warned', pattern: /^service: ignored by sky launch; a service is started with sky serve up$/ },
  { field: 'pool', yaml: 'pool:\n  workers: 2\nrun: echo hi\n', answer: 'warned', pattern: /^pool: ignored by sky launch/ },
  { field: 'setup', yaml: 'setup: echo s\nrun: echo hi\n', answer: 'honoured' },
  { field: 'run', yaml: 'run: echo hi\n', answer: 'honoured' },
  { field: 'envs', yaml: 'envs:\n  A: 1\nrun: echo $A\n', answer: 'honoured' },
  { field: 'secrets (mapping)', yaml: 'secrets:\n  TOKEN: t\nrun: echo hi\n', answer: 'honoured' },
  { field: 'secrets (list of names)', yaml: 'secrets: [TOKEN]\nrun: echo hi\n', answer: 'honoured' },
  { field: 'managed_secrets', yaml: 'managed_secrets: [TOKEN]\nrun: echo hi\n', answer: 'refused', pattern: /not supported yet: managed_secrets/ },
  { field: 'inputs', yaml: 'inputs:\n  s3://bucket/in: 10\nrun: echo hi\n', answer: 'warned', pattern: /^inputs: ignored; SkyPilot uses it only to estimate data egress cost/ },
  { field: 'outputs', yaml: 'outputs:\n  s3://bucket/out: 1\nrun: echo hi\n', answer: 'warned', pattern: /^outputs: ignored;/ },
  { field: 'file_mounts_mapping', yaml: 'file_mounts_mapping: {}\nrun: echo hi\n', answer: 'refused', pattern: /not supported yet: file_mounts_mapping \(an internal SkyPilot field\)/ },
  { field: 'config', yaml: 'config:\n  kubernetes: {}\nrun: echo hi\n', answer: 'refused', pattern: /not supported yet: config/ },
  { field: 'volumes', yaml: 'volumes:\n  /mnt/v: vol\nrun: echo hi\n', answer: 'refused', pattern: /not supported yet: volumes/ },
  { field: 'volume_mounts', yaml: 'volume_mounts: []\nrun: echo hi\n', answer: 'refused', pattern: /not supported yet: volume_mounts/ },
  { field: 'api_server_access', yaml: 'api_server_access: true\nrun: echo hi\n', answer: 'refused', pattern: /not supported yet: api_server_access/ },
  { field: '_metadata', yaml: '_metadata: {}\nrun: echo hi\n', answer: 'refused', pattern: /not supported yet: _metadata/ },
];

export const RESOURCE_FIELD_ROWS: FieldRow[] = [
  { field: 'cloud', yaml: res('cloud: local'), answer: 'honoured' },
  { field: 'region', yaml: res('cloud: local\nregion: us-east-1'), answer: 'refused', pattern: /^local cannot place nodes in a region or zone/ },
  { field: 'region (ssh pool)', yaml: res('infra: ssh/gpu-pool'), driver: 'ssh', answer: 'honoured' },
  { field: 'zone', yaml: res('cloud: local\nzone: us-east-1a'), answer: 'refused', pattern: /^local cannot place nodes in a region or zone/ },
  { field: 'infra', yaml: res('infra: local'), answer: 'honoured' },
  { field: 'cpus', yaml: res('cpus: 2+'), answer: 'honoured' },
  { field: 'memory', yaml: res('memory: 4+'), answer: 'honoured' },
  { field: 'accelerators', yaml: res('accelerators: A100:1'), answer: 'honoured' },
  { field: 'instance_type', yaml: res('instance_type: p3.2xlarge'), answer: 'refused', pattern: /^local cannot pick an instance type \(instance_type: p3\.2xlarge\)/ },
  { field: 'use_spot', yaml: res('use_spot: true'), driver: 'ssh', answer: 'refused', pattern: /^ssh cannot provide spot capacity/ },
  { field: 'use_spot: false', yaml: res('use_spot: false'), answer: 'honoured' },
  { field: 'job_recovery', yaml: res('job_recovery: FAILOVER'), answer: 'warned', pattern: /^resources\.job_recovery: only managed jobs recover \(sky jobs launch\); ignored by sky launch$/ },
  { field: 'volumes', yaml: res('volumes: []'), answer: 'refused', pattern: /not supported yet: resources\.volumes/ },
  { field: 'disk_size', yaml: res('disk_size: 50'), answer: 'honoured' },
  { field: 'ephemeral_storage', yaml: res('ephemeral_storage: 50'), answer: 'honoured' },
  { field: 'disk_tier', yaml: res('disk_tier: best'), answer: 'warned', pattern: /^resources\.disk_tier: has no meaning on the local driver/ },
  { field: 'network_tier', yaml: res('network_tier: best'), driver: 'ssh', answer: 'warned', pattern: /^resources\.network_tier: has no meaning on the ssh driver/ },
  { field: 'local_disk', yaml: res('local_disk: nvme:1'), answer: 'warned', pattern: /^resources\.local_disk: has no meaning on the local driver/ },
  { field: 'max_hourly_cost', yaml: res('max_hourly_cost: 3'), answer: 'refused', pattern: /not supported yet: resources\.max_hourly_cost/ },
  { field: 'ports', yaml: res('ports: 8080'), answer: 'honoured' },
  { field: 'labels', yaml: res('labels:\n  team: ml'), answer: 'honoured' },
  { field: 'accelerator_args', yaml: res('accelerator_args:\n  tpu_vm: true'), answer: 'warned', pattern: /^resources\.accelerator_args: has no meaning on the local driver/ },
  { field: '_no_missing_accel_warnings', yaml: res('_no_missing_accel_warnings: true'), answer: 'refused', pattern: /not supported yet: resources\._no_missing_accel_warnings \(an internal SkyPilot field/ },
  { field: 'image_id', yaml: res('image_id: docker:ubuntu:22.04'), answer: 'refused', pattern: /^local cannot run the task in a container image \(image_id: docker:ubuntu:22\.04\)/ },
  { field: 'image_id (machine image)', yaml: res('image_id: ami-0123'), driver: 'ssh', answer: 'refused', pattern: /^ssh cannot boot a machine image/ },
  { field: 'image_id: null', yaml: res('image_id: null'), answer: 'honoured' },
  { field: 'autostop', yaml: res('autostop:\n  idle_minutes: 10\n  down: true'), answer: 'honoured' },
  { field: 'priority', yaml: res('priority: 10'), answer: 'warned', pattern: /^resources\.priority: ignored by sky launch/ },
  { field: 'priority_class', yaml: res('priority_class: high'), answer: 'warned', pattern: /^resources\.priority_class: has no meaning on the local driver/ },
  { field: '_docker_login_config', yaml: res('_docker_login_config: {}'), answer: 'refused', pattern: /not supported yet: resources\._docker_login_config/ },
  { field: '_is_image_managed', yaml: res('_is_image_managed: true'), answer: 'refused', pattern: /not supported yet: resources\._is_image_managed/ },
  { field: '_requires_fuse', yaml: res('_requires_fuse: true'), answer: 'refused', pattern: /not supported yet: resources\._requires_fuse/ },
  { field: '_cluster_config_overrides', yaml: res('_cluster_config_overrides: {}'), answer: 'refused', pattern: /not supported yet: resources\._cluster_config_overrides/ },
  { field: 'any_of', yaml: res('any_of:\n  - cpus: 2\n  - cpus: 1'), answer: 'honoured' },
  { field: 'ordered', yaml: res('ordered:\n  - cpus: 2\n  - cpus: 1'), answer: 'honoured' },
];
