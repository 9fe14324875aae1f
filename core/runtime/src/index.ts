export { JOBS_DIR, NODE_SCRIPT_PATH, RUNTIME_VERSION, runtimeScript, runtimeScriptPath, WORKDIR } from './script.js';
export {
  envFile,
  FINAL_JOB_STATUSES,
  isFinalJobStatus,
  jobDir,
  jobEnv,
  jobFiles,
  NODE_JOB_STATUSES,
  PRIVATE_JOB_FILES,
  shellQuote,
  type ClusterInfo,
  type JobSpec,
  type JsonLike,
  type NodeJobStatus,
  type RuntimeJobStatus,
} from './job.js';
export {
  cancelCommand,
  gcCommand,
  parseStartOutput,
  parseStatus,
  parseStatusOutput,
  startCommand,
  statusCommand,
  versionCommand,
  type CommandOptions,
  type JobState,
} from './commands.js';
export { streamScript } from './stream-script.js';
