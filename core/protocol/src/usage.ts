import { z } from 'zod';

/**
 * Usage: what clusters held and what jobs ran, per user and workspace, over a period. The
 * daemon keeps an append-only ledger in the state store (it outlives `sky down`, which deletes
 * the cluster and its jobs): one entry per interval a cluster held its nodes (UP, until it was
 * stopped or torn down) and one per finished job. Reports sum those entries clipped to a window.
 */

const boolFlag = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());

/**
 * One ledger entry. `cluster`: an interval a cluster incarnation held its nodes, from `start`
 * (it became UP) to `end` (stopped or torn down; absent while it is still UP); identified by
 * clusterId and start. `job`: a finished job of that incarnation, from its start (or submission
 * when it never started) to its end; identified by clusterId and jobId. Figures are totals over
 * the nodes: a 2-node cluster of 4 CPUs each has cpus 8.
 */
export const UsageRecordSchema = z
  .object({
    kind: z.enum(['cluster', 'job']),
    clusterId: z.string(),
    cluster: z.string(),
    /** The job's id within the cluster incarnation (kind job only). */
    jobId: z.number().int().min(1).optional(),
    user: z.string().describe('User id: the cluster owner, or the user who submitted the job.'),
    userName: z.string(),
    workspace: z.string(),
    driver: z.string(),
    infra: z.string(),
    nodes: z.number().int().min(0),
    cpus: z.number().min(0),
    memoryGb: z.number().min(0),
    gpus: z.number().min(0),
    /** The accelerator name when the entry has GPUs (the first one's when nodes differ). */
    gpuType: z.string().optional(),
    start: z.number().int(),
    end: z.number().int().optional(),
  })
  .meta({ id: 'UsageRecord' });
export type UsageRecord = z.infer<typeof UsageRecordSchema>;

/** A time as the usage query takes it: unix milliseconds or an ISO 8601 date or date-time. Undefined when neither. */
export function parseUsageTime(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d{1,16}$/.test(trimmed)) return Number(trimmed);
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(trimmed)) return undefined;
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

const UsageTimeSchema = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => parseUsageTime(s) !== undefined, 'unix milliseconds or an ISO 8601 date');

export const UsageQuerySchema = z.strictObject({
  since: UsageTimeSchema.describe('Start of the window (inclusive): unix milliseconds or ISO 8601.'),
  until: UsageTimeSchema.optional().describe('End of the window (exclusive); default now.'),
  all_users: boolFlag.optional().describe("Every user's usage (admins only); default the caller's own."),
});
export type UsageQuery = z.infer<typeof UsageQuerySchema>;

/** GPU-hours of one accelerator type. */
export const UsageGpuHoursSchema = z.object({ type: z.string(), hours: z.number() });

/** The figures of one group (a user in a workspace, or a total). Hours are rounded to a millionth. */
export const UsageFiguresSchema = z.object({
  nodeHours: z.number(),
  cpuHours: z.number(),
  gpuHours: z.number(),
  memoryGbHours: z.number(),
  gpuHoursByType: z.array(UsageGpuHoursSchema).describe('GPU-hours by accelerator type, largest first.'),
  /** Jobs that ran (at least partly) within the window. */
  jobs: z.number().int(),
  jobCpuHours: z.number().describe('CPU-hours the jobs asked for while they ran, within the window.'),
  jobGpuHours: z.number(),
});
export type UsageFigures = z.infer<typeof UsageFiguresSchema>;

export const UsageRowSchema = UsageFiguresSchema.extend({ user: z.string(), userName: z.string(), workspace: z.string() });
export type UsageRow = z.infer<typeof UsageRowSchema>;

export const UsageReportSchema = z
  .object({
    since: z.number().int(),
    until: z.number().int(),
    allUsers: z.boolean(),
    /** One row per user and workspace, ordered by user name then workspace. */
    rows: z.array(UsageRowSchema),
    /** Per workspace, over the users in the report. */
    workspaces: z.array(UsageFiguresSchema.extend({ workspace: z.string() })),
    total: UsageFiguresSchema,
  })
  .meta({ id: 'UsageReport' });
export type UsageReport = z.infer<typeof UsageReportSchema>;
