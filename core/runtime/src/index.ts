export { EVENTS_DIR, JOBS_DIR, NODE_SCRIPT_PATH, nodeScriptPath, RUNTIME_VERSION, runtimeScript, runtimeScriptPath, WORKDIR } from './script.js';
export {
  envFile,
  FINAL_JOB_STATUSES,
  isFinalJobStatus,
  jobDir,
  jobEnv,
  jobFiles,
  journalPath,
  NODE_JOB_STATUSES,
  PRIVATE_JOB_FILES,
  rankDirName,
  shellQuote,
  type ClusterInfo,
  type JobSpec,
  type JsonLike,
  type NodeJobStatus,
  type RuntimeJobStatus,
} from './job.js';
export {
  cancelCommand,
  followCommand,
  gcCommand,
  launcherCommand,
  launcherRequest,
  parseEvent,
  parseLauncherAnswer,
  parseStartOutput,
  parseStatus,
  parseStatusOutput,
  startCommand,
  statusCommand,
  versionCommand,
  type CommandOptions,
  type JobEvent,
  type JobState,
} from './commands.js';
export { streamScript } from './stream-script.js';
export { executable, firstExecutable, SCRIPT_PATHS, terminalUnder } from './programs.js';
