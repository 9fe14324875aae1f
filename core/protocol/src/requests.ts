import { z } from 'zod';
import { ErrorInfoSchema } from './error-schema.js';
import { LANES, REQUEST_STATUSES } from './wire/status.js';

export const RequestStatusSchema = z.enum(REQUEST_STATUSES);
export const LaneSchema = z.enum(LANES);

/** The job a request queued: its cluster and its id in that cluster's queue. */
export const RequestJobSchema = z.object({ cluster: z.string(), id: z.number().int().min(1) }).meta({ id: 'RequestJob' });
export type RequestJob = z.infer<typeof RequestJobSchema>;

/** A persisted request: everything a client can learn about one asynchronous operation. */
export const RequestRecordSchema = z
  .object({
    id: z.string(),
    name: z.string().describe('Operation name, e.g. "ping" or "launch".'),
    user: z.string().describe('Id of the user who submitted it.'),
    userName: z.string(),
    workspace: z.string(),
    lane: LaneSchema,
    status: RequestStatusSchema,
    cluster: z.string().optional().describe('Cluster the request targets, when it targets one.'),
    createdAt: z.number().int().describe('Milliseconds since the epoch.'),
    startedAt: z.number().int().optional(),
    finishedAt: z.number().int().optional(),
    body: z.unknown().describe('The validated operation body (secrets masked in listings).'),
    result: z.unknown().optional(),
    error: ErrorInfoSchema.optional(),
    idempotencyKey: z.string().optional(),
    idempotencyHash: z.string().optional().describe('Digest of operation, workspace and body, to tell a retry from a reuse of its key (kept by the store, never served).'),
    attempts: z.number().int().describe('How many times the daemon has started it.'),
    replica: z.string().optional().describe('The daemon replica that owns it: the one that accepted it (set at submit), then the one that ran it (the latest one when it was run again, or took it over from a replica that died).'),
    cancelRequestedAt: z.number().int().optional().describe('When a cancel was asked of a request running on another replica (milliseconds since the epoch); the replica running it cancels it.'),
    job: RequestJobSchema.optional().describe(
      'The job this request queued (launch, exec), recorded in the same write that queued it: a request with a job ends SUCCEEDED with it, also across a daemon restart.',
    ),
  })
  .meta({ id: 'Request' });
export type RequestRecord = z.infer<typeof RequestRecordSchema>;

/** Answer to a submit: 202 once the request is durably stored (or, with `Prefer: wait=N`, once it ended or N seconds passed). */
export const SubmitResponseSchema = z
  .object({
    requestId: z.string(),
    status: RequestStatusSchema,
    created: z.boolean(),
    job: RequestJobSchema.optional().describe('The job the request queued, once it has (with Prefer: wait=N).'),
    error: ErrorInfoSchema.optional().describe('Why the request failed or was cancelled, when it ended so before the answer (with Prefer: wait=N).'),
  })
  .meta({ id: 'SubmitResponse' });
export type SubmitResponse = z.infer<typeof SubmitResponseSchema>;

const csv = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(',').filter((s) => s.length > 0) : v), z.array(item));
const boolFlag = z.preprocess(
  (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v),
  z.boolean(),
);

export const ListRequestsQuerySchema = z.strictObject({
  user: z.string().min(1).optional().describe('Only requests of this user id.'),
  all_users: boolFlag.optional().describe('Requests of every user (the -u view).'),
  status: csv(RequestStatusSchema).optional().describe('Comma-separated statuses.'),
  name: z.string().min(1).optional(),
  cluster: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().min(1).optional().describe('Opaque cursor from the previous page.'),
});
export type ListRequestsQuery = z.infer<typeof ListRequestsQuerySchema>;

export const RequestPageSchema = z
  .object({ items: z.array(RequestRecordSchema), nextCursor: z.string().optional() })
  .meta({ id: 'RequestPage' });
export type RequestPage = z.infer<typeof RequestPageSchema>;

export const WaitQuerySchema = z.strictObject({
  timeout: z.coerce.number().min(0).max(300).optional().describe('Seconds to wait for the request to finish.'),
});

export const LogsQuerySchema = z.strictObject({
  follow: boolFlag.optional().describe('Keep streaming until the request finishes.'),
  format: z.enum(['events', 'text']).optional().describe('events (default): server-sent events; text: the whole log as a plain-text download (follow defaults to false).'),
});

export const CancelBodySchema = z
  .strictObject({
    ids: z.array(z.string().min(1)).max(1000).optional(),
    all: z.boolean().optional().describe('Cancel every active request of the caller.'),
    all_users: z.boolean().optional().describe('With all: every user\'s active requests.'),
  })
  .meta({ id: 'CancelBody' });
export type CancelBody = z.infer<typeof CancelBodySchema>;

export const CancelResultSchema = z
  .object({
    cancelled: z.array(z.string()),
    alreadyFinished: z.array(z.string()),
  })
  .meta({ id: 'CancelResult' });
export type CancelResult = z.infer<typeof CancelResultSchema>;

export const IdParamsSchema = z.strictObject({ id: z.string().min(1).max(200) });

/** One chunk of a request's log, in order. */
export const LogChunkSchema = z.object({ seq: z.number().int(), at: z.number().int(), text: z.string() });
export type LogChunk = z.infer<typeof LogChunkSchema>;
