import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_HOST, DEFAULT_PORT } from '@sky/protocol';
// The URL rules without pg itself: a daemon on LevelDB never loads the database driver.
import { SCHEMA_NAME, parseDatabaseUrl } from '@sky/store-postgres/url';
import { listenTransportKeys } from './listen-schema.js';
import { REPLICA_ID } from '../replica.js';
import { PortRange } from '../serve/port-range.js';
import { parseAllowEntry } from '../webhooks/allow-list.js';

const positiveInt = z.number().int().min(1);

/** An IPv4 or IPv6 address, or a CIDR range of one. */
export function isAddressOrRange(value: string): boolean {
  const [address = '', bits, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * SKY_DB_URL chooses PostgreSQL when no store block says otherwise: with no `kind` it sets
 * kind postgres and the url; with kind postgres and no url it gives the url; any other kind,
 * or a url in the block, wins over it.
 */
export function withDatabaseUrlFromEnv(block: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  const url = env.SKY_DB_URL;
  if (url === undefined || url === '') return block;
  if (block === undefined || block === null) return { kind: 'postgres', url };
  if (typeof block !== 'object' || Array.isArray(block)) return block;
  const given = block as Record<string, unknown>;
  if (given.kind === undefined) return { ...given, kind: 'postgres', ...(given.url === undefined ? { url } : {}) };
  if (given.kind === 'postgres' && given.url === undefined) return { ...given, url };
  return block;
}

/** Where the state lives: LevelDB in the state directory (default), memory (tests), or PostgreSQL shared by replicas. */
const storeSchema = z
  .strictObject({
    kind: z.enum(['level', 'memory', 'postgres']).default('level'),
    /** level: the LevelDB directory (default <state_dir>/state). */
    path: z.string().min(1).optional(),
    /** level: fsync every group commit. */
    sync: z.boolean().default(false),
    /** postgres: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (or SKY_DB_URL); never logged with its password. */
    url: z.string().min(1).optional(),
    /** postgres: the schema holding the tables (default sky), created if missing. */
    schema: z.string().regex(SCHEMA_NAME, 'must be lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters').optional(),
    /** postgres: most pooled connections per replica (default 10). */
    pool_max: z.number().int().min(1).max(1000).optional(),
  })
  .superRefine((store, ctx) => {
    if (store.kind === 'postgres') {
      if (store.url === undefined) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required with kind postgres (or set SKY_DB_URL), e.g. postgres://sky@db.example:5432/sky' });
        return;
      }
      try {
        parseDatabaseUrl(store.url);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: err instanceof Error ? err.message : String(err) });
      }
      if (store.path !== undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'is for kind level only; PostgreSQL is named by url' });
      return;
    }
    for (const key of ['url', 'schema', 'pool_max'] as const) {
      if (store[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `is for kind postgres only (kind is ${store.kind})` });
    }
  })
  .prefault({});

/** The daemon config. Every key is documented in sky.config.example.yaml; unknown keys are errors. */
export const DaemonConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default(DEFAULT_HOST),
      port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
      /** Required to listen on a non-loopback address while auth is not configured. */
      allow_remote_without_auth: z.boolean().default(false),
      ...listenTransportKeys,
    })
    .prefault({}),
  state_dir: z.string().min(1).default('~/.sky/api_server'),
  /** This daemon's name among the replicas sharing one store; absent: <hostname>-<random>, new at each start. */
  replica_id: z
    .string()
    .regex(REPLICA_ID, 'a replica id is 1-63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit')
    .optional(),
  /** Several replicas on one shared store (PostgreSQL); ignored on a store one daemon has to itself. */
  replicas: z
    .strictObject({
      /** Each replica holds a lease this long, renewed every third of it; a replica that stops renewing is taken for dead and its requests are taken over. */
      lease_seconds: z.number().int().min(3).max(3600).default(15),
    })
    .prefault({}),
  store: z.preprocess((block) => withDatabaseUrlFromEnv(block, process.env), storeSchema),
  requests: z
    .strictObject({
      short_workers: positiveInt.max(10000).default(64),
      long_workers: positiveInt.max(1000).default(4),
      retention_hours: z.number().positive().default(168),
      prune_interval_seconds: z.number().positive().default(600),
      cancel_grace_seconds: z.number().min(0).default(5),
      max_body_bytes: positiveInt.default(1024 * 1024),
      max_wait_seconds: z.number().positive().max(300).default(60),
      /** Most requests of one user running at once, per lane, so that no user can occupy a lane. */
      max_running_per_user: z.strictObject({ short: positiveInt.max(10000).default(16), long: positiveInt.max(1000).default(2) }).prefault({}),
      /** The same for admins (and for a daemon's owner without authentication). */
      max_running_per_admin: z.strictObject({ short: positiveInt.max(10000).default(32), long: positiveInt.max(1000).default(3) }).prefault({}),
      /**
       * Requests waiting for a worker are held in memory: at most this many at once (all users),
       * this many of one user, and this many bytes of their bodies; a submit beyond is refused
       * with QUEUE_FULL (503). The defaults fit the daemon's 128 MB heap ceiling.
       */
      max_queued: positiveInt.max(1_000_000).default(20_000),
      max_queued_per_user: positiveInt.max(1_000_000).default(10_000),
      max_queued_body_bytes: positiveInt.default(16 * 1024 * 1024),
    })
    .prefault({}),
  shutdown: z.strictObject({ drain_seconds: z.number().min(0).default(30) }).prefault({}),
  /**
   * Under sky daemon start's supervisor: a daemon that sends no heartbeat for this long (its
   * event loop is blocked, e.g. by a busy loop in a plugin's call) is killed and restarted; the
   * plugin whose call held the loop is quarantined by the restarted daemon. 0 turns it off.
   */
  watchdog: z.strictObject({ stall_seconds: z.number().min(0).default(30) }).prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      file: z.string().min(1).optional(),
      stdout: z.boolean().default(false),
    })
    .prefault({}),
  plugins: z
    .strictObject({
      /** Directories holding plugin packages as `<dir>/<package>` (a checkout of a plugin under development), searched first. */
      dirs: z.array(z.string().min(1)).default([]),
      /**
       * The plugins directory: an npm prefix (`<install_dir>/package.json`, packages in
       * `<install_dir>/node_modules`) that `sky plugins install` installs into and the loader
       * searches after `dirs`. Default `~/.sky/plugins` of the daemon's account.
       */
      install_dir: z.string().min(1).default('~/.sky/plugins'),
      /** Also search npm's global packages (`npm i -g sky-driver-x`), last. */
      global: z.boolean().default(true),
      /**
       * Where each plugin keeps its files (`<data_dir>/<id>`: the ssh driver's host ledger, the
       * Kubernetes driver's cluster keys). Default `<state_dir>/plugins`. Several replicas on one
       * PostgreSQL must share one directory (the ledger locks across processes and hosts).
       */
      data_dir: z.string().min(1).optional(),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /**
       * none: the personal daemon (loopback only; its owner proves itself with the local token);
       * basic: passwords (and tokens); token: bearer tokens only; proxy: a trusted SSO proxy's header (and tokens).
       */
      mode: z.enum(['none', 'basic', 'token', 'proxy']).default('none'),
      /** The first admin, created at start when no admin exists (SKY_ADMIN_USERNAME / SKY_ADMIN_PASSWORD win). */
      admin: z
        .strictObject({
          username: z.string().min(1).max(64).optional(),
          password: z.string().min(8).optional(),
          /** A file holding the first admin's password (readable by the daemon's account only). */
          password_file: z.string().min(1).optional(),
        })
        .prefault({}),
      proxy: z
        .strictObject({
          header: z.string().min(1).default('x-forwarded-user'),
          /** Peers (addresses or CIDR ranges) whose user header is believed. None by default: proxy mode needs at least one. */
          trusted_addresses: z.array(z.string().min(1).refine(isAddressOrRange, 'an IP address or a CIDR range such as 10.0.0.0/8')).default([]),
          /** The header carrying the shared secret the proxy adds to every request. */
          secret_header: z.string().min(1).default('x-sky-proxy-secret'),
          /** The shared secret (at least 16 characters); or secret_file, a file holding it. One of them is required in proxy mode. */
          secret: z.string().min(16).optional(),
          secret_file: z.string().min(1).optional(),
        })
        .prefault({}),
      /** Failed logins of one user name from one client address in the window before its logins are slowed down. */
      max_failed_logins: z.number().int().min(1).default(10),
      /** Failed logins from one client address (whatever the names) in the window before all its password logins are slowed down. */
      max_failed_logins_per_address: z.number().int().min(1).default(100),
      failed_login_window_seconds: z.number().positive().default(300),
      /** Longest hold of a login attempt on a locked key (the hold starts at 1 s and doubles with every further failure). */
      max_login_delay_seconds: z.number().positive().max(300).default(30),
      /** Changes of one's own password allowed per user in password_change_window_seconds. */
      max_password_changes: z.number().int().min(1).default(5),
      password_change_window_seconds: z.number().positive().default(900),
      /** Worker threads hashing passwords (scrypt), apart from the thread pool the state store uses, and how many checks may wait for them. */
      hash_workers: z.number().int().min(1).max(16).default(2),
      hash_queue: z.number().int().min(1).max(100_000).default(256),
      session: z
        .strictObject({
          /** How long a browser session (opened by the link of sky dashboard, or by the dashboard's password login) lasts. */
          lifetime_hours: z.number().positive().max(24 * 30).default(12),
          /** How long a login link can be used (once). */
          link_seconds: z.number().int().min(10).max(3600).default(120),
        })
        .prefault({}),
    })
    .prefault({}),
  ssh: z
    .strictObject({
      known_hosts: z.string().min(1).default('~/.ssh/known_hosts'),
      trust_on_first_use: z.boolean().default(false),
      connect_timeout_seconds: z.number().positive().max(300).default(10),
      keepalive_interval_seconds: z.number().positive().max(600).default(5),
      keepalive_count_max: z.number().int().min(1).max(100).default(3),
    })
    .prefault({}),
  ssh_gateway: z
    .strictObject({
      /** SSH tunnels (`ssh CLUSTER`) one user may hold open at a time. */
      max_tunnels_per_user: z.number().int().min(1).max(1000).default(8),
      /** A tunnel that carries no byte from the user's ssh client for this long is closed (the generated config sends keepalives every 30 s). */
      idle_timeout_seconds: z.number().int().min(10).max(7 * 86400).default(600),
      /** A tunnel is closed this long after it opened, whatever it carries. */
      max_tunnel_seconds: z.number().int().min(10).max(30 * 86400).default(86400),
      /** How often an open tunnel's user is authorized again (a revoked token or a removal from the workspace ends it). */
      recheck_seconds: z.number().int().min(1).max(3600).default(30),
    })
    .prefault({}),
  secrets: z
    .strictObject({
      /** The AES-256-GCM key that encrypts task secrets at rest; default <state_dir>/secrets.key. */
      key_file: z.string().min(1).optional(),
      /** Start although queued requests or jobs hold secrets sealed with a key that is not available. */
      allow_unreadable: z.boolean().default(false),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Audit entries are deleted this many days after they were recorded (by the requests pruner). */
      retention_days: z.number().positive().default(90),
    })
    .prefault({}),
  events: z
    .strictObject({
      /** Changes stay in the event stream's feed this long: a client away longer re-fetches its lists (event reset). */
      retention_hours: z.number().positive().max(24 * 365).default(24),
      /** How often changes past retention are deleted. */
      prune_interval_seconds: z.number().min(1).max(86_400).default(300),
      /** Event streams one user may hold open at once (browser tabs, SDK clients); one more is refused with TOO_MANY_CONNECTIONS. */
      max_streams_per_user: z.number().int().min(1).max(10_000).default(32),
    })
    .prefault({}),
  uploads: z
    .strictObject({
      /** Largest upload (a workdir or one file mount source), in bytes. */
      max_upload_bytes: positiveInt.default(8 * 1024 ** 3),
      /** Most files and directories in one upload. */
      max_files: positiveInt.max(10_000_000).default(100_000),
      /** Largest manifest body (POST /api/v1/uploads), in bytes. */
      max_manifest_bytes: positiveInt.default(32 * 1024 ** 2),
      /** What one user may store in uploads (distinct chunks), in bytes. */
      quota_bytes: positiveInt.default(20 * 1024 ** 3),
      /** Uploads no launch or exec used for this many days are deleted, then chunks no upload refers to. */
      unused_days: z.number().positive().default(7),
      /** How often garbage collection runs. */
      gc_interval_seconds: z.number().positive().default(3600),
      /** Paths on the daemon's host that any user's task may name as workdir or file_mounts source (symbolic links resolved first). */
      server_paths: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  jobs: z
    .strictObject({
      /** A node that stays unreachable this long fails the jobs running on it. */
      unreachable_grace_seconds: z.number().min(0).max(3600).default(30),
      /**
       * How often every running job's status is read from its nodes, as a safety net: how jobs
       * end reaches the daemon as events from each node's journal, not from this pass.
       */
      reconcile_seconds: z.number().min(1).max(3600).default(30),
      /**
       * A job claimed to start of which no rank exists on any node after this long was never
       * started (its starter died): it is queued again. Longer than a start can take.
       */
      start_grace_seconds: z.number().min(1).max(3600).default(120),
    })
    .prefault({}),
  managed_jobs: z
    .strictObject({
      /** How many managed jobs provision their clusters at once (the rest wait their turn, PENDING or RECOVERING). */
      launch_parallelism: z.number().int().min(1).max(256).default(8),
      /** A managed job that cannot be relaunched after a lost node keeps trying this long, then ends FAILED_NO_RESOURCE. */
      recovery_wait_seconds: z.number().min(0).max(30 * 86400).default(3600),
      /** How often a RECOVERING job that found no capacity tries again (it also tries whenever a cluster is torn down). */
      retry_seconds: z.number().min(1).max(3600).default(30),
      /** A task's first launch retries this many times on a failure to provision before FAILED_NO_RESOURCE. */
      launch_retries: z.number().int().min(0).max(100).default(2),
      /** The most relaunches for exit codes in recover_on_exit_codes, whatever max_restarts_on_errors says. */
      max_exit_code_restarts: z.number().int().min(0).max(10000).default(100),
    })
    .prefault({}),
  /** Services (sky serve): each service's load balancer listens in the daemon on a port of this range. */
  serve: z
    .strictObject({
      /** Ports given to services' load balancers, "first-last"; a service keeps its port for its life. */
      ports: z
        .string()
        .default('30001-30100')
        .superRefine((spec, ctx) => {
          try {
            new PortRange(spec);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
          }
        }),
      /** Address the load balancers listen on; absent: listen.host. */
      host: z.string().min(1).optional(),
      /** Host name given to clients in endpoints; absent: the listen address (this machine's name for a wildcard). */
      advertise_host: z.string().min(1).optional(),
      /** How often every replica is probed and the autoscalers look at the load. */
      probe_interval_seconds: z.number().positive().max(3600).default(5),
      /** A replica that stopped answering its probe is replaced after this long NOT_READY. */
      not_ready_grace_seconds: z.number().positive().max(86400).default(60),
      /** The window the autoscaler's requests-per-second is measured over. */
      qps_window_seconds: z.number().int().min(1).max(600).default(60),
      /** Replica clusters provisioned at the same time, over all services. */
      launch_parallelism: z.number().int().min(1).max(1000).default(16),
    })
    .prefault({}),
  node_helper: z
    .strictObject({
      /** sky-node-helper's unix socket; absent: no helper (the local driver then cannot run jobs as other accounts). */
      socket: z.string().min(1).optional(),
      /** How long a call to the helper may take before it is given up. */
      call_timeout_seconds: z.number().positive().max(3600).default(120),
    })
    .prefault({}),
  /** Webhooks: workspaces' changes POSTed to outside addresses, only to those this list admits. */
  webhooks: z
    .strictObject({
      /**
       * Where webhooks may point: URL prefixes (https://hooks.example.com/sky/), hosts with an optional port
       * (hooks.example.com, hooks.example.com:8443), addresses or CIDR ranges (10.0.0.0/8). Empty: webhooks are off.
       * Loopback, private and link-local addresses (cloud metadata) are reached only when an address or range entry names them.
       */
      allow: z.array(z.string().min(1).max(2000)).max(1000).default([]).superRefine((entries, ctx) => {
        for (const entry of entries) {
          try {
            parseAllowEntry(entry);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
          }
        }
      }),
      /** Attempts per event (the first included) on no answer, a 5xx, 408 or 429; then the event is given up and logged. */
      max_attempts: z.number().int().min(1).max(100).default(6),
      /** The wait after the first failed attempt, doubling after each further one. */
      backoff_ms: z.number().int().min(1).max(3_600_000).default(1000),
      /** No wait between attempts is longer. */
      max_backoff_ms: z.number().int().min(1).max(86_400_000).default(300_000),
      /** One attempt's limit (connect, send, first bytes of the answer). */
      timeout_seconds: z.number().positive().max(300).default(10),
      /** Deliveries kept per webhook in its delivery log. */
      log_size: z.number().int().min(1).max(1000).default(50),
      /** How often the delivering replica looks for webhooks added or removed on other replicas (and for changes it was not told of). */
      poll_seconds: z.number().positive().max(3600).default(5),
      /** Webhooks one workspace may have. */
      max_per_workspace: z.number().int().min(1).max(1000).default(20),
    })
    .prefault({}),
  /** Absent: the local driver on a personal server (auth none), none on a team server (it must be configured, with accounts). */
  drivers: z
    .record(z.string().regex(/^[@a-z0-9][a-z0-9._/-]*$/i, 'a driver id is a plugin name like "ssh" or "@acme/sky-driver-x"'), z.record(z.string(), z.unknown()))
    .optional(),
  /** GET /metrics (Prometheus): admins may always read it; a scraper may with this bearer token (token, or token_file holding it). */
  metrics: z
    .strictObject({
      token: z.string().min(16).optional(),
      token_file: z.string().min(1).optional(),
    })
    .refine((m) => m.token === undefined || m.token_file === undefined, 'set metrics.token or metrics.token_file, not both')
    .prefault({}),
}).transform((config) => ({
  ...config,
  serve: { ...config.serve, host: config.serve.host ?? config.listen.host },
  drivers: config.drivers ?? (config.auth.mode === 'none' ? { local: {} } : {}),
}));

/** Whether the daemon serves a team (anything but auth none): drivers must keep users' jobs apart. */
export function isMultiUser(config: Pick<DaemonConfig, 'auth'>): boolean {
  return config.auth.mode !== 'none';
}

export type DaemonConfig = z.infer<typeof DaemonConfigSchema>;
export type DaemonConfigInput = z.input<typeof DaemonConfigSchema>;

/** Paths derived from the config, with ~ expanded. */
export interface DaemonPaths {
  stateDir: string;
  storePath: string;
  logFile: string;
  pidFile: string;
}
