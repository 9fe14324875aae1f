// What a client needs to build a task from a command and flags and to send it: no YAML parser
// and no task schema, so a short-lived CLI that runs a command loads neither (`./task/index.ts`
// has everything, the YAML reader included).
export type { Accelerator, GitWorkdir, Infra, PortRange, Quantity, ResourceFields, Resources, Task } from './types.js';
export { taskFromCommand } from './command.js';
export { applyOverrides, assertResolved, parseEnvFlags, type TaskOverrides } from './overrides.js';
export { taskToConfig, type TaskConfig, type ResourcesConfig, type ResourceFieldsConfig, type ServiceConfig } from './config.js';
export { validateClusterName, clusterNameProblem, CLUSTER_NAME_MAX_LENGTH } from './names.js';
export { sourceListEntries } from './fields.js';
