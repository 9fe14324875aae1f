import { z } from 'zod';
import { FEED_KINDS } from './wire/feed-kinds.js';

const boolFlag = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());


export const EventStreamQuerySchema = z.strictObject({
  after: z.coerce
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Resume after this sequence number (the header Last-Event-ID wins when both are given). Without it the stream starts live.'),
  all_users: boolFlag.optional().describe("Every user's changes the caller may list with all_users (the -u views); default: only the caller's own."),
});
export type EventStreamQuery = z.infer<typeof EventStreamQuerySchema>;

/**
 * `event: change` (its `id:` is the seq). `key` is the cluster name, `CLUSTER/JOBID`, the
 * managed job id, the service name, or the request id; `record` is what the matching GET route shows the
 * caller, or null when the thing was deleted.
 */
export const FeedEventSchema = z
  .object({
    seq: z.number().int().min(1),
    at: z.number().int().describe('Commit time, ms since the epoch.'),
    kind: z.enum(FEED_KINDS),
    key: z.string(),
    record: z.unknown().describe('The record as its GET route shows it to the caller; null when deleted.'),
  })
  .meta({ id: 'FeedEvent' });
export type FeedEvent = z.infer<typeof FeedEventSchema>;

/** `event: ready`: the backlog (if any) was sent; what follows is live. */
export const FeedReadySchema = z.object({ seq: z.number().int().min(0) }).meta({ id: 'FeedReady' });
export type FeedReady = z.infer<typeof FeedReadySchema>;

/** `event: reset`: the asked position cannot be resumed; re-fetch the lists, live events follow from seq. */
export const FeedResetSchema = z.object({ seq: z.number().int().min(0), reason: z.string() }).meta({ id: 'FeedReset' });
export type FeedReset = z.infer<typeof FeedResetSchema>;

/** The key an event of a job carries. */
export function jobEventKey(cluster: string, id: number): string {
  return `${cluster}/${id}`;
}
