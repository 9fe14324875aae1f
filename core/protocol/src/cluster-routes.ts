import { z } from 'zod';
import { ClusterRecordSchema, JobRecordSchema } from './clusters.js';
import { JOB_STATUSES } from './wire/status.js';
import { ClusterNameSchema } from './ops.js';

const boolFlag = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());
const names = z.preprocess((v) => (typeof v === 'string' ? v.split(',').filter((s) => s.length > 0) : v), z.array(z.string().min(1).max(63)));

/** The fields a status table shows: what `summary=true` returns instead of whole records. */
export const ClusterSummarySchema = ClusterRecordSchema.pick({
  name: true,
  owner: true,
  ownerName: true,
  workspace: true,
  infra: true,
  status: true,
  statusReason: true,
  numNodes: true,
  resources: true,
  launchedAt: true,
  lastActiveAt: true,
  lastCommand: true,
  autostop: true,
}).meta({ id: 'ClusterSummary' });
export type ClusterSummary = z.infer<typeof ClusterSummarySchema>;
export const CLUSTER_SUMMARY_FIELDS = Object.keys(ClusterSummarySchema.shape) as Array<keyof ClusterSummary>;

export const ClusterQuerySchema = z.strictObject({
  all_users: boolFlag.optional().describe("Every user's clusters (the -u view)."),
  summary: boolFlag.optional().describe('Only the fields a status table shows (smaller and faster for large teams).'),
  names: names.optional().describe('Comma-separated cluster names.'),
});

export const ClusterListSchema = z
  .object({
    items: z.array(z.union([ClusterRecordSchema, ClusterSummarySchema])).describe('Whole records, or summaries with summary=true.'),
    enabledInfra: z.array(z.string()).describe('Infra the daemon can launch on, e.g. ["local"].'),
  })
  .meta({ id: 'ClusterList' });
export type ClusterList = z.infer<typeof ClusterListSchema>;

export const ClusterNameParamsSchema = z.strictObject({ name: ClusterNameSchema });

export const JobQuerySchema = z.strictObject({
  all_users: boolFlag.optional().describe("Every user's jobs (default: the caller's)."),
  skip_finished: boolFlag.optional(),
  status: z
    .preprocess((v) => (typeof v === 'string' ? v.split(',').filter((s) => s.length > 0) : v), z.array(z.enum(JOB_STATUSES)))
    .optional(),
});

export const JobListSchema = z.object({ items: z.array(JobRecordSchema) }).meta({ id: 'JobList' });
export type JobList = z.infer<typeof JobListSchema>;

export const JobLogParamsSchema = z.strictObject({
  name: ClusterNameSchema,
  job: z.coerce.number().int().min(1),
});

export const JobLogsQuerySchema = z.strictObject({
  follow: boolFlag.optional().describe('Keep streaming until the job ends (default true).'),
  tail: z.coerce.number().int().min(0).max(100000).optional().describe('Only the last N lines of each rank.'),
  format: z.enum(['events', 'text']).optional().describe('events (default): server-sent events; text: the whole log as a plain-text download (follow defaults to false).'),
});

/** One line of a job's log, from one rank. */
export interface JobLogLine {
  rank: number;
  text: string;
}
