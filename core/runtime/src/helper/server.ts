import { chmod, chown, lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import {
  encodeHelperFrame,
  HELPER_LIMITS,
  HELPER_PROTOCOL_VERSION,
  HelperFrameDecoder,
  HelperRequestSchema,
  HelperResultSchemas,
  issueLines,
  SkyError,
  toSkyError,
  type HelperRequest,
} from '@sky/protocol';
import { ensureAccountDir, type Account, type AccountBook } from './accounts.js';
import type { CallLog, LogEntry } from './call-log.js';
import type { HelperConfig } from './config.js';
import type { NodePaths } from './paths.js';
import { runAs, streamAs } from './run.js';
import { AccountSession, type SessionSink } from './session.js';
import type { WorkerReply } from './worker.js';
import type { WorkerPool } from './workers.js';

export interface HelperServerDeps {
  config: HelperConfig;
  accounts: AccountBook;
  paths: NodePaths;
  workers: WorkerPool;
  log: CallLog;
  version: string;
}

interface Outcome {
  result: Record<string, unknown>;
  payload?: Uint8Array;
}

/** Errno codes of a worker that mean the account itself may not do it: the kernel refused. */
const DENIED = new Set(['EACCES', 'EPERM', 'ELOOP', 'EROFS']);

function refusedAsAccount(account: string, what: string, reply: NonNullable<WorkerReply['error']>): SkyError {
  const errno = reply.errno ?? 'error';
  if (DENIED.has(errno)) {
    return new SkyError('NODE_HELPER_REFUSED', `${what}: account ${account} may not do this (${errno})`, {
      hint: 'Files on an account node are handled as that account; a link to a file it cannot reach is refused.',
    });
  }
  return new SkyError('NODE_RUNTIME_ERROR', `${what} as account ${account} failed: ${reply.message}`);
}

/**
 * sky-node-helper's socket server: a fixed set of calls (see HelperRequestSchema), each checked
 * again here whatever the caller checked (account allowed and not root or the daemon; paths
 * inside the account's node directories), run as the account (commands directly, files through
 * the account's worker), and logged.
 */
export class HelperServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private connections = 0;

  constructor(private readonly deps: HelperServerDeps) {}

  /** Prepare the node root and the socket directory, then listen (socket 0600, owned by `owner`). */
  async listen(owner: Account): Promise<void> {
    const { config, log } = this.deps;
    await prepareNodeRoot(config.nodeRoot);
    await requireRunnableByAccounts(process.execPath);
    await prepareSocketDir(config.socket, owner);
    const stale = await lstat(config.socket).catch(() => undefined);
    if (stale !== undefined) {
      if (!stale.isSocket()) throw new SkyError('CONFIG_INVALID', `sky-node-helper: ${config.socket} exists and is not a socket`, { hint: 'Remove it or choose another socket path.' });
      if (await answers(config.socket)) {
        throw new SkyError('CONFIG_INVALID', `sky-node-helper: another helper is already listening on ${config.socket}`, { hint: 'Stop it first (systemctl stop sky-node-helper), or choose another socket.' });
      }
      await unlink(config.socket);
    }
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    const previous = process.umask(0o077);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.socket, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(previous);
    }
    server.on('error', (err) => log.write({ event: 'server-error', message: err.message }));
    await chown(config.socket, owner.uid, owner.gid);
    await chmod(config.socket, 0o600);
    log.write({
      event: 'listening',
      socket: config.socket,
      owner: owner.name,
      nodeRoot: config.nodeRoot,
      names: config.accounts.names.join(',') || undefined,
      prefixes: config.accounts.prefixes.join(',') || undefined,
      minUid: config.minUid,
      createAccounts: config.createAccounts,
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.deps.workers.stopAll();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.deps.config.socket).catch(() => undefined);
  }

  private accept(socket: Socket): void {
    const connection = ++this.connections;
    this.sockets.add(socket);
    const decoder = new HelperFrameDecoder();
    const inflight = new Map<number, AbortController>();
    const sessions = new Map<number, Promise<AccountSession | undefined>>();
    const afterDrain = new Set<() => void>();
    socket.on('drain', () => {
      const waiting = [...afterDrain];
      afterDrain.clear();
      for (const fn of waiting) fn();
    });
    this.deps.log.write({ event: 'connected', connection });
    const send = (header: unknown, payload?: Uint8Array): void => {
      if (!socket.writable) return;
      try {
        socket.write(encodeHelperFrame(header, payload));
      } catch (err) {
        const e = toSkyError(err) ?? new SkyError('INTERNAL', String(err));
        socket.write(encodeHelperFrame({ id: (header as { id?: number }).id ?? 0, ok: false, error: { code: e.code, message: e.message } }));
      }
    };
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        const e = toSkyError(err) ?? new SkyError('VALIDATION_FAILED', String(err));
        this.deps.log.write({ event: 'bad-frame', connection, message: e.message });
        send({ id: 0, ok: false, error: { code: e.code, message: `${e.message}; closing the connection` } });
        socket.end();
        return;
      }
      for (const frame of frames) this.dispatch(connection, socket, afterDrain, frame.header, frame.payload, inflight, sessions, send);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const controller of inflight.values()) controller.abort();
      this.deps.log.write({ event: 'disconnected', connection });
    });
  }

  private dispatch(
    connection: number,
    socket: Socket,
    afterDrain: Set<() => void>,
    header: unknown,
    payload: Uint8Array,
    inflight: Map<number, AbortController>,
    sessions: Map<number, Promise<AccountSession | undefined>>,
    send: (h: unknown, p?: Uint8Array) => void,
  ): void {
    const started = performance.now();
    const parsed = HelperRequestSchema.safeParse(header);
    if (!parsed.success) {
      const raw = (typeof header === 'object' && header !== null ? header : {}) as { id?: unknown; op?: unknown };
      const id = typeof raw.id === 'number' && Number.isSafeInteger(raw.id) && raw.id > 0 ? raw.id : 0;
      const message = `invalid node helper request: ${issueLines(parsed.error.issues).map((l) => `${l.path}: ${l.message}`).join('; ')}`;
      this.deps.log.write({ connection, id, op: typeof raw.op === 'string' ? raw.op.slice(0, 40) : undefined, ok: false, code: 'VALIDATION_FAILED', message: message.slice(0, 500) });
      send({ id, ok: false, error: { code: 'VALIDATION_FAILED', message: message.slice(0, 8000) } });
      return;
    }
    const req = parsed.data;
    const entry: LogEntry = { connection, id: req.id, op: req.op, ...describe(req), bytesIn: payload.length || undefined };
    const finish = (error?: SkyError, bytesOut?: number): void => {
      // A session's input (keystrokes, an upload's pieces) is logged only when refused; the session itself is logged when it ends.
      if (req.op === 'sessionInput' && error === undefined) return;
      this.deps.log.write({ ...entry, ok: error === undefined, code: error?.code, message: error?.message.slice(0, 500), bytesOut, ms: Math.round((performance.now() - started) * 10) / 10 });
    };
    if (req.op === 'abort') {
      const target = inflight.get(req.target);
      target?.abort();
      send({ id: req.id, ok: true, result: { aborted: target !== undefined } });
      finish();
      return;
    }
    const refuse = (error: SkyError): void => {
      send({ id: req.id, ok: false, error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) } });
      finish(error);
    };
    if (inflight.has(req.id)) return refuse(new SkyError('VALIDATION_FAILED', `call id ${req.id} is already in use on this connection`));
    if (inflight.size >= HELPER_LIMITS.inFlight) return refuse(new SkyError('VALIDATION_FAILED', `more than ${HELPER_LIMITS.inFlight} calls at once on one connection`));
    const controller = new AbortController();
    inflight.set(req.id, controller);
    const sink: SessionSink = {
      chunk: (data) => send({ id: req.id, ok: true, chunk: true }, data),
      stderr: (data) => send({ id: req.id, ok: true, chunk: true, fd: 2 }, data),
      congested: () => socket.writableLength > HELPER_LIMITS.streamBufferBytes,
      onDrain: (fn) => afterDrain.add(fn),
    };
    this.execute(req, payload, controller.signal, sink, sessions)
      .then((outcome) => {
        const checked = HelperResultSchemas[req.op].safeParse(outcome.result);
        if (!checked.success) throw new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: the ${req.op} answer is malformed`);
        send({ id: req.id, ok: true, result: checked.data }, outcome.payload);
        finish(undefined, outcome.payload?.length);
      })
      .catch((err: unknown) => {
        const error = toSkyError(err) ?? new SkyError('INTERNAL', `sky-node-helper: ${req.op} failed: ${err instanceof Error ? err.message : String(err)}`);
        refuse(error);
      })
      .finally(() => inflight.delete(req.id));
  }

  private async execute(req: Exclude<HelperRequest, { op: 'abort' }>, payload: Uint8Array, signal: AbortSignal, sink: SessionSink, sessions: Map<number, Promise<AccountSession | undefined>>): Promise<Outcome> {
    const { config, accounts, paths } = this.deps;
    switch (req.op) {
      case 'hello':
        return {
          result: {
            protocol: HELPER_PROTOCOL_VERSION,
            version: this.deps.version,
            nodeRoot: config.nodeRoot,
            minUid: config.minUid,
            canCreate: config.createAccounts,
            accounts: { names: config.accounts.names, prefixes: config.accounts.prefixes },
          },
        };
      case 'ensureAccount': {
        const { account, created } = await accounts.ensure(req.account);
        const home = await ensureAccountDir(config.nodeRoot, account);
        return { result: { uid: account.uid, gid: account.gid, created, home } };
      }
      case 'makeNodeDir': {
        const account = await accounts.get(req.account);
        const node = paths.nodeDir(account.name, req.node);
        await this.worker(account, { op: 'mkdir', path: node }, `creating ${node}`);
        return { result: { path: node } };
      }
      case 'statNodeDir': {
        const account = await accounts.get(req.account);
        const node = paths.nodeDir(account.name, req.node);
        return { result: (await this.worker(account, { op: 'stat', path: node }, `looking at ${node}`)).result ?? {} };
      }
      case 'removeNodeDir': {
        const account = await accounts.get(req.account);
        const dir = paths.clusterOrNodeDir(account.name, req.dir);
        return { result: (await this.worker(account, { op: 'rm', path: dir }, `removing ${dir}`)).result ?? {} };
      }
      case 'run': {
        const account = await accounts.get(req.account);
        const node = paths.nodeDir(account.name, req.node);
        const result = await runAs(account, node, req.command, { jobPath: config.jobPath, signal, ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}) });
        return { result: { ...result } };
      }
      case 'stream': {
        const account = await accounts.get(req.account);
        const node = paths.nodeDir(account.name, req.node);
        return { result: await streamAs(account, node, req.command, sink, { jobPath: config.jobPath, signal }) };
      }
      case 'session': {
        // Registered before the first await: input sent right behind the request waits for the session, in order.
        let started: (session: AccountSession | undefined) => void = () => undefined;
        sessions.set(req.id, new Promise((resolve) => (started = resolve)));
        try {
          const account = await accounts.get(req.account);
          const node = paths.nodeDir(account.name, req.node);
          if (signal.aborted) throw new SkyError('CANCELLED', 'the session was abandoned before it started');
          const { session, ended } = AccountSession.start(account, node, req, sink, config.jobPath);
          started(session);
          const end = (): void => session.end();
          signal.addEventListener('abort', end, { once: true });
          try {
            return { result: await ended };
          } finally {
            signal.removeEventListener('abort', end);
          }
        } finally {
          started(undefined);
          sessions.delete(req.id);
        }
      }
      case 'sessionInput': {
        // Only a session this connection opened: ids are per connection.
        const session = await sessions.get(req.target);
        return { result: { taken: session === undefined ? false : await session.input(req, payload) } };
      }
      case 'read': {
        const account = await accounts.get(req.account);
        const node = paths.nodeDir(account.name, req.node);
        const path = paths.inNode(node, req.path);
        const reply = await this.worker(account, { op: 'read', path, offset: req.offset, max: req.max }, `reading ${path}`);
        const data = reply.data ?? new Uint8Array(0);
        if (data.length > req.max) throw new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: the worker of ${account.name} answered more bytes than asked`);
        return { result: reply.result ?? {}, payload: data };
      }
      case 'writeFiles': {
        const account = await accounts.get(req.account);
        const node = paths.nodeDir(account.name, req.node);
        const base = paths.inNode(node, req.dir, true);
        const files = req.files.map((f) => ({ path: paths.under(base, f.path), mode: f.mode & 0o777, bytes: f.bytes }));
        const total = files.reduce((n, f) => n + f.bytes, 0);
        if (total !== payload.length) throw new SkyError('VALIDATION_FAILED', `writeFiles announced ${total} bytes but sent ${payload.length}`);
        return { result: (await this.worker(account, { op: 'writeFiles', files, data: payload }, `writing files under ${base}`)).result ?? {} };
      }
      case 'syncPlan': {
        const account = await accounts.get(req.account);
        const node = paths.nodeDir(account.name, req.node);
        const base = paths.inNode(node, req.dest, true);
        const dirs = [base, ...req.dirs.map((d) => paths.under(base, d))];
        const files = req.files.map((f) => ({ path: paths.under(base, f.path), size: f.size, mtimeMs: f.mtimeMs }));
        const reply = await this.worker(account, { op: 'syncPlan', dirs, files }, `syncing into ${base}`);
        const need = (reply.result?.['need'] ?? []) as unknown;
        if (!Array.isArray(need) || need.some((i) => typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= files.length)) {
          throw new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: the worker of ${account.name} gave a malformed sync plan`);
        }
        return { result: { need } };
      }
      case 'syncChunk': {
        const account = await accounts.get(req.account);
        const node = paths.nodeDir(account.name, req.node);
        const base = paths.inNode(node, req.dest, true);
        const path = paths.under(base, req.path);
        const end = req.offset + payload.length;
        if (end > req.size || (req.last && end !== req.size)) {
          throw new SkyError('VALIDATION_FAILED', `syncChunk of ${req.path}: bytes ${req.offset}-${end} do not fit a file of ${req.size} bytes`);
        }
        const call = { op: 'syncChunk' as const, path, offset: req.offset, size: req.size, mode: req.mode & 0o777, mtimeMs: req.mtimeMs, last: req.last, data: payload };
        return { result: (await this.worker(account, call, `writing ${path}`)).result ?? {} };
      }
      case 'signal': {
        const account = await accounts.get(req.account);
        return { result: (await this.worker(account, { op: 'signal', pgid: req.pgid, signal: req.signal }, `signalling process group ${req.pgid}`)).result ?? {} };
      }
    }
  }

  private async worker(account: Account, input: Parameters<WorkerPool['call']>[1], what: string): Promise<WorkerReply> {
    const reply = await this.deps.workers.call(account, input);
    if (reply.error !== undefined) throw refusedAsAccount(account.name, what, reply.error);
    return reply;
  }
}

/** What a call is about, for its log line: account, node, path, a command's first 200 characters. */
function describe(req: HelperRequest): LogEntry {
  const out: LogEntry = {};
  if ('account' in req) out['account'] = req.account;
  if ('node' in req) out['node'] = req.node;
  if ('dir' in req) out['dir'] = req.dir;
  if ('dest' in req) out['dest'] = req.dest;
  if ('path' in req) out['path'] = req.path;
  if (req.op === 'session') {
    out['command'] = req.command === undefined ? '(login shell)' : req.command.length > 200 ? `${req.command.slice(0, 200)}…` : req.command;
    out['pty'] = req.pty !== undefined;
  }
  if (req.op === 'sessionInput') out['target'] = req.target;
  if (req.op === 'run' || req.op === 'stream') out['command'] = req.command.length > 200 ? `${req.command.slice(0, 200)}…` : req.command;
  if (req.op === 'writeFiles' || req.op === 'syncPlan') out['files'] = req.files.length;
  if (req.op === 'signal') {
    out['pgid'] = req.pgid;
    out['signal'] = String(req.signal);
  }
  return out;
}

/** Whether something accepts connections on a unix socket (a live helper, as opposed to a stale file). */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** The node root: a root-owned directory (0711), so accounts reach their own directory in it and list nothing. */
export async function prepareNodeRoot(nodeRoot: string): Promise<void> {
  const st = await lstat(nodeRoot).catch(() => undefined);
  if (st === undefined) await mkdir(nodeRoot, { recursive: true, mode: 0o711 });
  else if (!st.isDirectory() || st.uid !== 0) {
    throw new SkyError('CONFIG_INVALID', `sky-node-helper: the node root ${nodeRoot} must be a directory owned by root`, { hint: `Remove ${nodeRoot} (the helper creates it) or chown root it.` });
  }
  await chmod(nodeRoot, 0o711);
  await requireSearchable(nodeRoot);
}

/** The per-account workers run this Node.js binary as the account: it and its directories must be open to others. */
async function requireRunnableByAccounts(binary: string): Promise<void> {
  const st = await lstat(binary).catch(() => undefined);
  if (st !== undefined && st.isFile() && (st.mode & 0o001) === 0) {
    throw new SkyError('CONFIG_INVALID', `sky-node-helper: ${binary} (Node.js) is not executable by other accounts, and the file workers run it as them`, {
      hint: 'Install Node.js system-wide (e.g. /usr/bin/node), not under root\'s home.',
    });
  }
  await requireSearchable(binary, `Node.js (${binary})`);
}

/** Accounts must be able to walk to their node directories: every ancestor must be searchable by others. */
async function requireSearchable(path: string, what = `the node root ${path}`): Promise<void> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = await lstat(dir);
    if ((st.mode & 0o001) === 0) {
      throw new SkyError('CONFIG_INVALID', `sky-node-helper: ${dir}, above ${what}, is not searchable by other accounts (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `chmod o+x ${dir}, or move ${path} elsewhere (the node root's default is /var/lib/sky-nodes).`,
      });
    }
    if (dir === '/') return;
  }
}

/**
 * The socket's directory is the helper's own: owned by root (so the daemon cannot swap paths
 * under the helper's feet), group = the daemon's group, mode 0710, holding nothing but the
 * socket. Only the daemon (and root) reach the socket. A shared directory (/run, /tmp) is refused.
 */
async function prepareSocketDir(socket: string, owner: Account): Promise<void> {
  const dir = dirname(socket);
  const st = await lstat(dir).catch(() => undefined);
  const notOwn = (why: string): SkyError =>
    new SkyError('CONFIG_INVALID', `sky-node-helper: the socket directory ${dir} ${why}`, {
      hint: 'Give the socket a directory of its own (default /run/sky-node-helper/helper.sock); the helper creates it.',
    });
  if (st === undefined) await mkdir(dir, { recursive: true, mode: 0o700 });
  else {
    if (!st.isDirectory() || st.uid !== 0) throw notOwn('must be a directory owned by root');
    if ((st.mode & 0o1022) !== 0) throw notOwn('is writable by others (or sticky): it is shared');
    const others = (await readdir(dir)).filter((e) => e !== basename(socket));
    if (others.length > 0) throw notOwn(`holds other files (${others.slice(0, 3).join(', ')}): it is shared`);
  }
  await chown(dir, 0, owner.gid);
  await chmod(dir, 0o710);
}
