export { SkyClient } from './client.js';
export type {
  SkyClientOptions,
  FromEnvironmentOptions,
  SubmitOptions,
  StreamOptions,
  ServerLogsOptions,
  WaitOptions,
  JobLogsOptions,
  ListClustersQuery,
  ListJobsQuery,
} from './client.js';
export { resolveEndpoint, parseEndpoint, maskSecrets, isLocalHost, ENDPOINT_ENV } from './endpoint.js';
export type { Endpoint, ResolveEndpointOptions } from './endpoint.js';
export { loadIdentity } from './identity.js';
export { ensureDaemon, spawnDaemon, probeHealth } from './autostart.js';
export type { EnsureDaemonOptions, EnsuredDaemon, SpawnDaemonOptions, StartedDaemon } from './autostart.js';
export { readDaemonInfo, stopLocalDaemon, tailLines } from './local-daemon.js';
export type { DaemonInfo, StopOptions, StopOutcome } from './local-daemon.js';
export { isPidAlive, waitForExit } from './process.js';
export { skyPaths } from './paths.js';
export type { SkyPaths } from './paths.js';
export { isSkyError, isAbortError } from './errors.js';
export { isConnectionRefused } from './transport.js';
export { SseParser } from './sse.js';
export type { SseEvent } from './sse.js';
export { SkyError, isTerminal, DEFAULT_ENDPOINT, DEFAULT_HOST, DEFAULT_PORT } from '@sky/protocol/wire';
export { login, logout } from './login.js';
export type { LoginOptions, LoginResult, LogoutResult } from './login.js';
export type { CreateTokenOptions } from './client.js';
export type { TokenSetting } from './endpoint.js';
