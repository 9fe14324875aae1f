// The task YAML reader, in a module of its own so the CLI imports it (with the YAML parser and
// the task schema) only when a task file is given.
export { parseTaskYaml, parseTaskPipelineYaml } from '@sky/protocol';
