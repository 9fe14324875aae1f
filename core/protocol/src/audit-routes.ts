import { z } from 'zod';
import { AuditRecordSchema } from './auth.js';

/**
 * A point in time as the audit query takes it: an ISO 8601 date (or date and time) or unix
 * milliseconds. Returns undefined when the text is neither.
 */
export function parseAuditSince(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d{1,16}$/.test(trimmed)) return Number(trimmed);
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(trimmed)) return undefined;
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

export const AuditQuerySchema = z.strictObject({
  user: z.string().min(1).max(64).optional().describe('Only entries of this user (name).'),
  since: z
    .string()
    .min(1)
    .max(64)
    .refine((s) => parseAuditSince(s) !== undefined, 'an ISO 8601 date or unix milliseconds')
    .optional()
    .describe('Only entries at or after this time: ISO 8601 or unix milliseconds.'),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().min(1).max(200).optional().describe('Opaque cursor from the previous page.'),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

export const AuditPageSchema = z
  .object({ items: z.array(AuditRecordSchema.meta({ id: 'AuditRecord' })), nextCursor: z.string().optional() })
  .meta({ id: 'AuditPage' });
export type AuditPage = z.infer<typeof AuditPageSchema>;
