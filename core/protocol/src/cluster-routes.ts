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
  format: z
    .enum(['rows', 'columns'])
    .optional()
    .describe('rows (default): a ClusterList; columns: the summaries as one array per field (a ClusterColumns, summary implied), the compact form of large listings.'),
});

export const ClusterListSchema = z
  .object({
    items: z.array(z.union([ClusterRecordSchema, ClusterSummarySchema])).describe('Whole records, or summaries with summary=true.'),
    enabledInfra: z.array(z.string()).describe('Infra the daemon can launch on, e.g. ["local"].'),
  })
  .meta({ id: 'ClusterList' });
export type ClusterList = z.infer<typeof ClusterListSchema>;

/** A column of format=columns (see ClusterColumn in wire/cluster-columns.ts): values in order, or distinct values and an index. */
function column(value: z.ZodType) {
  return z.object({
    values: z.array(value.nullable()).describe("Each cluster's value in order (null: none), or with index the distinct values."),
    index: z.array(z.number().int().min(-1)).optional().describe("Each cluster's position in values (-1: none)."),
  });
}
const summary = ClusterSummarySchema.shape;

export const ClusterColumnsSchema = z
  .object({
    count: z.number().int().min(0).describe('How many clusters the columns hold.'),
    columns: z.object({
      name: column(summary.name),
      owner: column(summary.owner),
      ownerName: column(summary.ownerName),
      workspace: column(summary.workspace),
      infra: column(summary.infra),
      status: column(summary.status),
      statusReason: column(summary.statusReason.unwrap()),
      numNodes: column(summary.numNodes),
      resources: column(summary.resources),
      launchedAt: column(summary.launchedAt),
      lastActiveAt: column(summary.lastActiveAt),
      lastCommand: column(summary.lastCommand.unwrap()),
      autostop: column(summary.autostop.unwrap()),
    }),
    enabledInfra: z.array(z.string()).describe('Infra the daemon can launch on, e.g. ["local"].'),
  })
  .meta({ id: 'ClusterColumns' });

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
