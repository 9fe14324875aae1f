import { z } from 'zod';

export const IdentitySchema = z.object({ id: z.string(), name: z.string() }).meta({ id: 'Identity' });
export type Identity = z.infer<typeof IdentitySchema>;

export const HealthSchema = z
  .object({
    status: z.enum(['healthy', 'draining']),
    version: z.string(),
    commit: z.string(),
    apiVersion: z.number().int(),
    pid: z.number().int(),
    startedAt: z.number().int(),
    user: IdentitySchema.describe('The identity the daemon resolved for this caller.'),
    serverPaths: z
      .boolean()
      .optional()
      .describe("Whether this caller's workdir and file_mounts may name paths on the API server's host (only its owner's may); if not, clients upload them."),
  })
  .meta({ id: 'Health' });
export type Health = z.infer<typeof HealthSchema>;

export const PluginStateSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['driver', 'store']),
    package: z.string(),
    state: z.enum(['loaded', 'skipped']),
    version: z.string().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'PluginState' });
export type PluginState = z.infer<typeof PluginStateSchema>;
export const PluginListSchema = z.object({ items: z.array(PluginStateSchema) }).meta({ id: 'PluginList' });

export const ServerLogsQuerySchema = z.strictObject({
  follow: z
    .preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean())
    .optional(),
  tail: z.coerce.number().int().min(0).max(100000).optional().describe('Only the last N lines.'),
});
