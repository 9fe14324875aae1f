import { z } from 'zod';
import { FEED_KINDS } from './wire/feed-kinds.js';
import { WorkspaceNameSchema } from './workspace-routes.js';

/** A webhook's id: `wh-` and lowercase hex (it travels in paths and in X-Sky-Delivery). */
export const WebhookIdSchema = z
  .string()
  .regex(/^wh-[0-9a-f]{8,32}$/, 'a webhook id looks like wh-0123abcd…')
  .describe('The webhook id (wh-…).');

/** The status an event carries for filtering: the record's status, or DELETED when the thing is gone. */
export const DELETED_STATUS = 'DELETED';

/**
 * A webhook as stored in its workspace's record. The secret is sealed at rest (the daemon's
 * secrets key) and never shown again after creation.
 */
export const WebhookRecordSchema = z.object({
  id: z.string(),
  url: z.string(),
  /** Kinds of change delivered; every kind when absent. */
  kinds: z.array(z.enum(FEED_KINDS)).optional(),
  /** Statuses delivered (the record's status, or DELETED); every status when absent. */
  statuses: z.array(z.string()).optional(),
  /** The HMAC key, sealed. */
  secret: z.string(),
  /** The feed's last seq when it was created: changes after it are delivered. */
  from: z.number().int().min(0),
  createdAt: z.number().int(),
  createdBy: z.string().describe('User id.'),
  createdByName: z.string(),
});
export type WebhookRecord = z.infer<typeof WebhookRecordSchema>;

/** One delivery (of one event, after all its attempts) as the delivery log keeps it. */
export const WebhookDeliverySchema = z
  .object({
    id: z.string().describe('The X-Sky-Delivery id: the webhook id and the event seq, the same on every attempt.'),
    seq: z.number().int(),
    kind: z.enum(FEED_KINDS),
    key: z.string(),
    url: z.string(),
    at: z.number().int().describe('When the last attempt ended, ms since the epoch.'),
    attempts: z.number().int().min(1),
    ok: z.boolean(),
    status: z.number().int().optional().describe("The receiver's last HTTP status; absent when no answer came."),
    error: z.string().optional(),
    excerpt: z.string().optional().describe("The first bytes of the receiver's last answer."),
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDelivery = z.infer<typeof WebhookDeliverySchema>;

/** What the delivering replica keeps per webhook in the workspace record: how far it got, and the last deliveries. */
export const WebhookStateSchema = z.object({
  /** The last feed seq handled (delivered, given up, or not wanted). */
  cursor: z.number().int().min(0),
  log: z.array(WebhookDeliverySchema),
});
export type WebhookState = z.infer<typeof WebhookStateSchema>;

/** A webhook as the API shows it: everything but the secret. */
export const WebhookViewSchema = z
  .object({
    id: z.string(),
    workspace: z.string(),
    url: z.string(),
    kinds: z.array(z.enum(FEED_KINDS)).optional().describe('Kinds delivered; all when absent.'),
    statuses: z.array(z.string()).optional().describe('Statuses delivered; all when absent.'),
    createdAt: z.number().int(),
    createdByName: z.string(),
    cursor: z.number().int().optional().describe('The last feed seq handled for it.'),
  })
  .meta({ id: 'Webhook' });
export type WebhookView = z.infer<typeof WebhookViewSchema>;

export const NewWebhookSchema = WebhookViewSchema.extend({
  secret: z.string().describe('The HMAC-SHA256 key of X-Sky-Signature: shown this once.'),
}).meta({ id: 'NewWebhook' });
export type NewWebhook = z.infer<typeof NewWebhookSchema>;

export const WebhookListSchema = z.object({ items: z.array(WebhookViewSchema) }).meta({ id: 'WebhookList' });
export type WebhookList = z.infer<typeof WebhookListSchema>;

export const WebhookDeliveryListSchema = z.object({ items: z.array(WebhookDeliverySchema).describe('Newest first.') }).meta({ id: 'WebhookDeliveryList' });
export type WebhookDeliveryList = z.infer<typeof WebhookDeliveryListSchema>;

export const WebhookWorkspaceParamsSchema = z.strictObject({ name: WorkspaceNameSchema });
export const WebhookParamsSchema = z.strictObject({ name: WorkspaceNameSchema, id: WebhookIdSchema });

export const CreateWebhookBodySchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }).max(2000).describe('Where events are POSTed (http or https); must be allowed by webhooks.allow.'),
    kinds: z.array(z.enum(FEED_KINDS)).min(1).max(FEED_KINDS.length).optional().describe('Kinds of change to deliver; all when absent.'),
    statuses: z
      .array(z.string().min(1).max(40).regex(/^[A-Z_]+$/, 'a status is upper case, e.g. SUCCEEDED, UP, DELETED'))
      .min(1)
      .max(50)
      .optional()
      .describe('Statuses to deliver (the record\'s status, or DELETED); all when absent.'),
    secret: z.string().min(16).max(200).optional().describe('The HMAC key; generated (and shown once) when absent.'),
  })
  .meta({ id: 'CreateWebhookBody' });
export type CreateWebhookBody = z.infer<typeof CreateWebhookBodySchema>;

/** The JSON body POSTed to a webhook: one change, as the workspace's owner-less view shows it. */
export const WebhookPayloadSchema = z
  .object({
    seq: z.number().int(),
    at: z.number().int(),
    kind: z.enum(FEED_KINDS),
    key: z.string(),
    record: z.unknown(),
  })
  .meta({ id: 'WebhookPayload' });
export type WebhookPayload = z.infer<typeof WebhookPayloadSchema>;

/** Headers of every delivery. */
export const WEBHOOK_HEADERS = {
  event: 'x-sky-event',
  delivery: 'x-sky-delivery',
  signature: 'x-sky-signature',
} as const;

/** The X-Sky-Delivery id of one event's delivery to one webhook: the same on every attempt, so receivers can drop repeats. */
export function webhookDeliveryId(webhookId: string, seq: number): string {
  return `${webhookId}-${seq}`;
}
