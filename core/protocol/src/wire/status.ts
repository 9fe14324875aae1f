/** Request statuses, in lifecycle order. */
export const REQUEST_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export const ACTIVE_STATUSES: readonly RequestStatus[] = ['PENDING', 'RUNNING'];
export const TERMINAL_STATUSES: readonly RequestStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export function isTerminal(status: RequestStatus): boolean {
  return status === 'SUCCEEDED' || status === 'FAILED' || status === 'CANCELLED';
}

/** Job lifecycle on a cluster, as in SkyPilot. */
export const JOB_STATUSES = ['PENDING', 'SETTING_UP', 'RUNNING', 'SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export function isJobTerminal(status: JobStatus): boolean {
  return status === 'SUCCEEDED' || status === 'FAILED' || status === 'FAILED_SETUP' || status === 'CANCELLED';
}

export const LANES = ['short', 'long'] as const;
export type Lane = (typeof LANES)[number];

/** A managed job's lifecycle, as in SkyPilot. */
export const MANAGED_JOB_STATUSES = [
  'PENDING',
  'STARTING',
  'RUNNING',
  'RECOVERING',
  'CANCELLING',
  'SUCCEEDED',
  'FAILED',
  'FAILED_SETUP',
  'FAILED_NO_RESOURCE',
  'FAILED_CONTROLLER',
  'CANCELLED',
] as const;
export type ManagedJobStatus = (typeof MANAGED_JOB_STATUSES)[number];
export const MANAGED_JOB_TERMINAL: readonly ManagedJobStatus[] = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'FAILED_NO_RESOURCE', 'FAILED_CONTROLLER', 'CANCELLED'];

export function isManagedJobTerminal(status: ManagedJobStatus): boolean {
  return MANAGED_JOB_TERMINAL.includes(status);
}
