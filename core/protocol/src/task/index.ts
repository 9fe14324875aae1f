// SkyPilot task YAML: parse, validate, override and print back.
export type { Accelerator, Infra, PortRange, Quantity, ResourceFields, Resources, Task, TaskAutostop } from './types.js';
export { parseTaskYaml, parseTaskPipelineYaml, parseTask, type TaskPipeline } from './parse.js';
export { taskFromCommand } from './command.js';
export { TaskSchema, validateTask, type TaskValidation } from './schema.js';
export { applyOverrides, assertResolved, parseEnvFlags, substituteEnvs, substituteEnvText, type TaskOverrides } from './overrides.js';
export { decideFields, type FieldDecision } from './driver-fields.js';
export { IGNORED_FIELDS, DEFAULT_AUTOSTOP_MINUTES, type IgnoredField } from './compat-fields.js';
export { taskToConfig, type TaskConfig, type ResourcesConfig, type ResourceFieldsConfig } from './config.js';
export { resourceCandidates, type ResourceChoices } from './candidates.js';
export { validateClusterName, clusterNameProblem, CLUSTER_NAME_MAX_LENGTH, taskNameProblem, envNameProblem } from './names.js';
export { UNSUPPORTED_FIELDS, type UnsupportedField, type UnsupportedFieldName } from './unsupported.js';
export { parseCpus, parseMemory, parseDiskSize, formatQuantity } from './quantity.js';
export { parseAccelerators, formatAccelerator } from './accelerators.js';
export { parsePorts, formatPort } from './ports.js';
export { parseInfra, formatInfra } from './infra.js';
export { formatTaskPath, type TaskIssue, type TaskProblem, type Report, type FieldPath } from './problems.js';
export { yamlPosition, type YamlPosition } from './yaml-position.js';
export { remotePathProblem, sourceListEntries } from './fields.js';
