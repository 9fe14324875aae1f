export { createSkyActivities } from './activities.js';
export type {
  SkyActivities,
  SkyActivitiesOptions,
  TaskJson,
  LaunchClusterInput,
  ExecJobInput,
  WaitForJobInput,
  JobOutcome,
  DownClusterInput,
  LaunchManagedJobInput,
  WaitManagedJobInput,
  ManagedJobOutcome,
} from './activities.js';
export type { ActivityContext, ContextSource } from './context.js';
