import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ACCOUNT_NAME, issueLines, SkyError } from '@sky/protocol';

/** Where the helper listens and keeps nodes unless told otherwise. */
export const HELPER_DEFAULTS = {
  socket: '/run/sky-node-helper/helper.sock',
  nodeRoot: '/var/lib/sky-nodes',
  minUid: 1000,
  workerIdleSeconds: 60,
  jobPath: '/usr/local/bin:/usr/bin:/bin',
} as const;

/**
 * An account prefix: a distinct namespace of account names, so it must end in `-` or `_`
 * (`sky-` allows `sky-alice-1a2b3c`, never `skyline`).
 */
export const ACCOUNT_PREFIX = /^[a-z_][a-z0-9_-]{0,15}[-_]$/;

/** The helper's settings, validated. */
export interface HelperConfig {
  /** The unix socket the daemon connects to. */
  socket: string;
  /** The daemon's OS account: it alone may connect (the socket is 0600, owned by it). */
  socketOwner: string;
  /** Root-owned 0711 directory holding `<account>/<cluster>/<node>` directories. */
  nodeRoot: string;
  /** Accounts the helper acts as: these names, and every name starting with one of the prefixes. */
  accounts: { names: string[]; prefixes: string[] };
  /** Accounts below this uid are refused (system accounts). */
  minUid: number;
  /** Whether ensureAccount may create missing accounts (useradd, no login shell). */
  createAccounts: boolean;
  /** A per-account file worker exits after this long without calls. */
  workerIdleSeconds: number;
  /** PATH of commands run as an account. */
  jobPath: string;
  /** Append the call log here; absent: standard error. */
  logFile: string | undefined;
}

const AbsolutePath = z
  .string()
  .min(2)
  .refine((p) => isAbsolute(p) && normalize(p) === p && !p.endsWith('/'), 'must be a normalised absolute path');

/** The YAML file's shape (`/etc/sky/helper.yaml`); every key is also a flag. */
export const HelperFileSchema = z.strictObject({
  socket: AbsolutePath.optional(),
  socket_owner: z.string().regex(ACCOUNT_NAME, 'must be an account name').optional(),
  node_root: AbsolutePath.optional(),
  accounts: z
    .strictObject({
      names: z.array(z.string().regex(ACCOUNT_NAME, 'must be an account name')).optional(),
      prefix: z.string().regex(ACCOUNT_PREFIX, 'must be 2-17 characters of a-z, 0-9, "_", "-", ending in "-" or "_"').optional(),
    })
    .optional(),
  min_uid: z.number().int().min(1).max(2 ** 31 - 2).optional(),
  create_accounts: z.boolean().optional(),
  worker_idle_seconds: z.number().positive().max(86_400).optional(),
  job_path: z
    .string()
    .min(1)
    .refine((p) => p.split(':').every((d) => isAbsolute(d)), 'must be absolute directories separated by ":"')
    .optional(),
  log_file: AbsolutePath.optional(),
});
type HelperFile = z.infer<typeof HelperFileSchema>;

export const HELPER_USAGE = `usage: sky-node-helper [--config FILE] [--socket PATH] [--socket-owner ACCOUNT] [--node-root DIR]
                       [--account NAME]... [--prefix PREFIX] [--min-uid N] [--create-accounts]
                       [--worker-idle-seconds N] [--job-path PATH] [--log-file FILE]
  Runs as root. Serves the sky daemon (the socket owner) a fixed set of calls that run jobs and
  handle files as team members' own OS accounts. Flags override the config file (YAML, keys
  socket, socket_owner, node_root, accounts: {names, prefix}, min_uid, create_accounts,
  worker_idle_seconds, job_path, log_file). SIGTERM stops it; running jobs keep running.`;

function invalid(message: string, hint = 'See plugins/driver-local/README.md (sky-node-helper) for every key.'): SkyError {
  return new SkyError('CONFIG_INVALID', `sky-node-helper: ${message}`, { hint });
}

/**
 * Refuse a config file that someone other than root could have written: it decides which
 * accounts root acts as. `owner`/`mode` come from stat.
 */
export function checkConfigFileSafe(file: string, st: { uid: number; mode: number }): void {
  if (st.uid !== 0) throw invalid(`${file} is owned by uid ${st.uid}, not root`, `chown root ${file}`);
  if ((st.mode & 0o022) !== 0) throw invalid(`${file} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`, `chmod go-w ${file}`);
}

function readFile(file: string, requireRootOwned: boolean): HelperFile {
  let text: string;
  try {
    if (requireRootOwned) checkConfigFileSafe(file, statSync(file));
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof SkyError) throw err;
    throw invalid(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw invalid(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = HelperFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw invalid(`${file}: ${issueLines(parsed.error.issues).map((l) => `${l.path}: ${l.message}`).join('; ')}`);
  }
  return parsed.data;
}

/**
 * The config from flags (and the file `--config` names). `requireRootOwned`: refuse a config file
 * that is not root's (the real helper; tests of parsing pass false).
 */
export function loadHelperConfig(argv: readonly string[], requireRootOwned = true): HelperConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        socket: { type: 'string' },
        'socket-owner': { type: 'string' },
        'node-root': { type: 'string' },
        account: { type: 'string', multiple: true },
        prefix: { type: 'string' },
        'min-uid': { type: 'string' },
        'create-accounts': { type: 'boolean' },
        'worker-idle-seconds': { type: 'string' },
        'job-path': { type: 'string' },
        'log-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new SkyError('USAGE', `sky-node-helper: ${(err as Error).message}\n${HELPER_USAGE}`);
  }
  if (values.help) throw new SkyError('USAGE', HELPER_USAGE);
  const file: HelperFile = values.config !== undefined ? readFile(values.config, requireRootOwned) : {};
  const number = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) throw new SkyError('USAGE', `sky-node-helper: --${flag} takes a number, got ${JSON.stringify(text)}`);
    return n;
  };
  const merged = HelperFileSchema.safeParse({
    ...file,
    ...(values.socket !== undefined ? { socket: values.socket } : {}),
    ...(values['socket-owner'] !== undefined ? { socket_owner: values['socket-owner'] } : {}),
    ...(values['node-root'] !== undefined ? { node_root: values['node-root'] } : {}),
    ...(values.account !== undefined || values.prefix !== undefined
      ? {
          accounts: {
            ...file.accounts,
            ...(values.account !== undefined ? { names: values.account } : {}),
            ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
          },
        }
      : {}),
    ...(values['min-uid'] !== undefined ? { min_uid: number('min-uid', values['min-uid']) } : {}),
    ...(values['create-accounts'] ? { create_accounts: true } : {}),
    ...(values['worker-idle-seconds'] !== undefined ? { worker_idle_seconds: number('worker-idle-seconds', values['worker-idle-seconds']) } : {}),
    ...(values['job-path'] !== undefined ? { job_path: values['job-path'] } : {}),
    ...(values['log-file'] !== undefined ? { log_file: values['log-file'] } : {}),
  });
  if (!merged.success) {
    throw invalid(issueLines(merged.error.issues).map((l) => `${l.path.replaceAll('_', '-')}: ${l.message}`).join('; '));
  }
  const c = merged.data;
  if (c.socket_owner === undefined) {
    throw invalid('no socket owner: name the daemon\'s account with --socket-owner (socket_owner: in the config)', 'The daemon runs as this account; only it may connect to the helper.');
  }
  const names = c.accounts?.names ?? [];
  const prefixes = c.accounts?.prefix !== undefined ? [c.accounts.prefix] : [];
  if (names.length === 0 && prefixes.length === 0) {
    throw invalid('no accounts allowed: name them (--account NAME, accounts.names) and/or give a prefix (--prefix sky-, accounts.prefix)');
  }
  if (names.includes(c.socket_owner) || prefixes.some((p) => c.socket_owner!.startsWith(p))) {
    throw invalid(`the daemon's own account ${c.socket_owner} is among the allowed accounts`, 'Jobs must never run as the daemon: run the daemon as an account outside the allowed names and prefix.');
  }
  const socket = c.socket ?? HELPER_DEFAULTS.socket;
  const nodeRoot = c.node_root ?? HELPER_DEFAULTS.nodeRoot;
  if (nodeRoot === '/' || socket.startsWith(`${nodeRoot}/`)) {
    throw invalid(`the socket ${socket} must not be inside the node root ${nodeRoot}`);
  }
  return {
    socket,
    socketOwner: c.socket_owner,
    nodeRoot,
    accounts: { names, prefixes },
    minUid: c.min_uid ?? HELPER_DEFAULTS.minUid,
    createAccounts: c.create_accounts ?? false,
    workerIdleSeconds: c.worker_idle_seconds ?? HELPER_DEFAULTS.workerIdleSeconds,
    jobPath: c.job_path ?? HELPER_DEFAULTS.jobPath,
    logFile: c.log_file,
  };
}
