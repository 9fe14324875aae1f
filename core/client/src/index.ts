export { SkyClient } from './client.js';
export type {
  SkyClientOptions,
  FromEnvironmentOptions,
  SubmitOptions,
  StreamOptions,
  ServerLogsOptions,
  WaitOptions,
  RunOptions,
  JobLogsOptions,
  ListClustersQuery,
  ListJobsQuery,
  ListManagedJobsQuery,
  ManagedJobLogsOptions,
  ManagedJobLogLine,
  ServiceLogsOptions,
} from './client.js';
export { resolveEndpoint, resolveCa, parseEndpoint, maskSecrets, isLocalHost, ENDPOINT_ENV, CA_ENV } from './endpoint.js';
export type { Endpoint, ResolveEndpointOptions, CaSetting } from './endpoint.js';
export { loadIdentity } from './identity.js';
export { ensureDaemon, spawnDaemon, probeHealth, DAEMON_NODE_ARGS, daemonNodeArgs } from './autostart.js';
export type { EnsureDaemonOptions, EnsuredDaemon, SpawnDaemonOptions, StartedDaemon } from './autostart.js';
export { readDaemonInfo, tailLines } from './local-daemon.js';
export type { DaemonInfo } from './local-daemon.js';
export { checkLocalDaemon, clientForDaemon, processStart, reachableHost, removeStaleDaemonFile, waitForDaemonExit } from './daemon-check.js';
export type { CheckOptions, DaemonCheck } from './daemon-check.js';
export { stopLocalDaemon } from './daemon-stop.js';
export type { StopOptions, StopOutcome } from './daemon-stop.js';
export { isPidAlive, waitForExit } from './process.js';
export { skyPaths } from './paths.js';
export type { SkyPaths } from './paths.js';
export { isSkyError, isAbortError } from './errors.js';
export { requestResult } from './outcome.js';
export { isConnectionRefused } from './transport.js';
export { SseParser } from './sse.js';
export { followEvents, type EventFeedHandlers, type FollowEventsOptions, type OpenEventStream } from './event-feed.js';
export type { SseEvent } from './sse.js';
export { SkyError, isTerminal, DEFAULT_ENDPOINT, DEFAULT_HOST, DEFAULT_PORT } from '@sky/protocol/wire';
export { login, logout } from './login.js';
export type { LoginOptions, LoginResult, LogoutResult } from './login.js';
export type { CreateTokenOptions } from './client.js';
export type { TokenSetting } from './endpoint.js';
export { prepareUpload, sendUpload } from './uploads.js';
export type { PreparedUpload, UploadOptions, UploadProgress, UploadResult } from './uploads.js';
export { uploadTaskFiles } from './task-uploads.js';
export type { TaskBody, TaskUploadHooks, TaskUploadProgress } from './task-uploads.js';
export { liveSupervisor, readStartRecord, readSupervisorRecord, recordRefusal, writeStartRecord, type StartRecord, type SupervisorRecord } from './supervisor.js';
// The protocol's statuses, error codes and bodies, so an SDK user needs no second import.
export { isJobTerminal, isManagedJobTerminal, ERROR_CATALOGUE, toSkyError } from '@sky/protocol/wire';
export type { ErrorCode, ErrorBody, ErrorInfo, JobStatus, ManagedJobStatus, RequestStatus } from '@sky/protocol/wire';
export type {
  OperationName,
  OperationBody,
  OperationResult,
  RequestRecord,
  SubmitResponse,
  CancelResult,
  ClusterRecord,
  JobRecord,
  JobList,
  ManagedJobRecord,
  ManagedJobDetail,
  LaunchResult,
  ExecResult,
  ClusterResult,
  CancelJobsResult,
  JobsLaunchBody,
  JobsLaunchResult,
  JobsCancelResult,
} from '@sky/protocol';
