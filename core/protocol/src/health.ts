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
    /** The plugin API range the plugin declares (its `apiVersion`), once its package was imported. */
    apiVersion: z.string().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'PluginState' });
export type PluginState = z.infer<typeof PluginStateSchema>;

/** A package in the daemon's plugins directory that no `drivers:` entry names (yet). */
export const InstalledPluginSchema = z.object({ package: z.string(), version: z.string().optional() }).meta({ id: 'InstalledPlugin' });
export type InstalledPlugin = z.infer<typeof InstalledPluginSchema>;

export const PluginListSchema = z
  .object({
    items: z.array(PluginStateSchema),
    /** The plugin API version this daemon provides (= the major.minor of the @sky/plugin-api it was built with). */
    apiVersion: z.string().optional(),
    /** sky-driver-* packages installed in the plugins directory that the config does not name. */
    installed: z.array(InstalledPluginSchema).optional(),
    replicaDifferences: z
      .array(z.string())
      .optional()
      .describe('On a state store shared by several replicas: how the plugins this replica loaded differ from those of each other live replica (absent when they are the same).'),
  })
  .meta({ id: 'PluginList' });
export type PluginList = z.infer<typeof PluginListSchema>;

/** POST /api/v1/plugins/install (admins): npm package specs (`name`, `name@version`) or absolute paths of packed tarballs. */
export const InstallPluginsBodySchema = z
  .strictObject({
    packages: z.array(z.string().min(1).max(1024)).min(1).max(16),
  })
  .meta({ id: 'InstallPluginsBody' });
export type InstallPluginsBody = z.infer<typeof InstallPluginsBodySchema>;

export const InstallPluginsResultSchema = z
  .object({
    /** The plugins directory the packages went into. */
    dir: z.string(),
    /** Each package asked for, as installed (name and version from its package.json). */
    installed: z.array(z.object({ spec: z.string(), package: z.string(), version: z.string().optional() })),
    /** What npm printed (its last lines). */
    log: z.string(),
  })
  .meta({ id: 'InstallPluginsResult' });
export type InstallPluginsResult = z.infer<typeof InstallPluginsResultSchema>;

export const ServerLogsQuerySchema = z.strictObject({
  follow: z
    .preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean())
    .optional(),
  tail: z.coerce.number().int().min(0).max(100000).optional().describe('Only the last N lines.'),
});
