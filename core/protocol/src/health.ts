import { z } from 'zod';

export const IdentitySchema = z.object({ id: z.string(), name: z.string() }).meta({ id: 'Identity' });
export type Identity = z.infer<typeof IdentitySchema>;

/** Whether the state store is usable: still opening (the database not reached yet), open, or unavailable (lost; it reconnects by itself). */
export const StoreStateSchema = z.enum(['opening', 'open', 'unavailable']);
export type StoreState = z.infer<typeof StoreStateSchema>;

export const StoreHealthSchema = z
  .object({
    kind: z.string().describe('level, memory or postgres (or a store plugin\'s kind).'),
    state: StoreStateSchema,
    location: z
      .string()
      .optional()
      .describe('Where the state lives (PostgreSQL: host, port, database and schema, never a password; LevelDB: the directory). Shown to admins only.'),
    error: z.string().optional().describe('Why the store is not open, when it is not (admins only).'),
  })
  .meta({ id: 'StoreHealth' });
export type StoreHealth = z.infer<typeof StoreHealthSchema>;

/** The readiness answer (GET /api/health/ready): 200 when ready, 503 with Retry-After otherwise. */
export const ReadinessSchema = z
  .object({
    ready: z.boolean(),
    replica: z.string().describe('The id of the daemon process that answered.'),
    store: StoreHealthSchema,
  })
  .meta({ id: 'Readiness' });
export type Readiness = z.infer<typeof ReadinessSchema>;

export const HealthSchema = z
  .object({
    status: z.enum(['healthy', 'draining']),
    ready: z
      .boolean()
      .optional()
      .describe('Whether this replica serves requests: its state store is open and reachable (the same as GET /api/health/ready). /api/health itself answers 200 while the process serves (liveness).'),
    replica: z.string().optional().describe('The id of the daemon process (replica) that answered: config replica_id, else <hostname>-<random>.'),
    leader: z
      .boolean()
      .optional()
      .describe('Whether this replica is the leader: it holds the lease `leader` and runs what one replica does for all (managed jobs, autostop, pruning). Always true for a daemon on a store of its own; false while the store is not open.'),
    store: StoreHealthSchema.optional(),
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
    state: z.enum(['loaded', 'skipped', 'failed']).describe('loaded; skipped (disabled, or failed to load with on_failure: skip: see error); failed (stopped after a fault in its code: see error).'),
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
