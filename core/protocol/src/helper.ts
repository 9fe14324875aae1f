import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './wire/errors.js';

/**
 * Messages between the daemon (and the local driver) and `sky-node-helper`, the small root
 * process that runs team members' jobs under their own OS accounts. One long-lived unix-socket
 * connection carries many calls at once: every request has an `id`, its answer the same `id`.
 * Bytes (file contents, log reads) travel beside the JSON in the same frame (helper-frames.ts),
 * never as base64. The helper re-validates everything it is sent: these schemas say what is
 * well-formed, the helper decides what is allowed (accounts, paths under its node root).
 */

/** Bumped when a message changes incompatibly; `hello` answers it. */
export const HELPER_PROTOCOL_VERSION = 1;

/** Upper bounds the helper enforces (and clients respect). */
export const HELPER_LIMITS = {
  /** JSON header of one frame. */
  headerBytes: 4 * 1024 * 1024,
  /** Bytes beside the header of one frame (file contents, one read). */
  payloadBytes: 8 * 1024 * 1024,
  /** Largest read answered at once. */
  readBytes: 4 * 1024 * 1024,
  /** A command's text. */
  commandBytes: 256 * 1024,
  /** A path, in characters. */
  pathChars: 4096,
  /** Files (or directories) in one writeFiles / syncPlan. */
  files: 10_000,
  /** Calls one connection may have open at once. */
  inFlight: 256,
  /** stdout and stderr of a run, each. */
  outputBytes: 4 * 1024 * 1024,
  /** The longest a run may be given. */
  runTimeoutMs: 24 * 60 * 60 * 1000,
  /** Bytes of stdout in one frame of a stream. */
  streamChunkBytes: 64 * 1024,
  /** stdout of a stream the helper buffers for a connection before it pauses the command. */
  streamBufferBytes: 1024 * 1024,
} as const;

/**
 * An OS account name the helper accepts: lower-case letters, digits, `_` and `-`, starting with a
 * letter or `_`, at most 32 characters (what `useradd` accepts everywhere, without its extensions).
 */
export const ACCOUNT_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

const noNul = (s: string): boolean => !s.includes('\0');

export const HelperAccountSchema = z.string().regex(ACCOUNT_NAME, 'an account name is lower-case letters, digits, "_" and "-", starting with a letter or "_", at most 32 characters');
/** An absolute path (a node directory). */
export const HelperAbsolutePathSchema = z
  .string()
  .min(2)
  .max(HELPER_LIMITS.pathChars)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine(noNul, 'must not contain a NUL byte');
/** A path on a node: relative to the node directory, or absolute inside it. */
export const HelperPathSchema = z.string().min(1).max(HELPER_LIMITS.pathChars).refine(noNul, 'must not contain a NUL byte');
const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Mode = z.number().int().min(0).max(0o7777);
const Id = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Signals the helper forwards to a job's process group; 0 only asks whether the group is alive. */
export const HELPER_SIGNALS = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 0] as const;
export type HelperSignal = (typeof HELPER_SIGNALS)[number];

/** Signals an interactive session may be sent (RFC 4254 §6.10 names, with "SIG"). */
export const HELPER_SESSION_SIGNALS = ['SIGABRT', 'SIGALRM', 'SIGFPE', 'SIGHUP', 'SIGILL', 'SIGINT', 'SIGKILL', 'SIGPIPE', 'SIGQUIT', 'SIGSEGV', 'SIGTERM', 'SIGUSR1', 'SIGUSR2'] as const;

const onNode = { account: HelperAccountSchema, node: HelperAbsolutePathSchema };

export const HelperRequestSchema = z.discriminatedUnion('op', [
  /** Who the helper is: protocol version, node root, which accounts it allows. */
  z.strictObject({ id: Id, op: z.literal('hello') }),
  /** Check an account is allowed (creating it when the helper may) and give it its directory under the node root. */
  z.strictObject({ id: Id, op: z.literal('ensureAccount'), account: HelperAccountSchema }),
  /** Create a node directory (`<node root>/<account>/<cluster>/<node>`) as the account, mode 0700. */
  z.strictObject({ id: Id, op: z.literal('makeNodeDir'), ...onNode }),
  /** Whether a node directory exists. */
  z.strictObject({ id: Id, op: z.literal('statNodeDir'), ...onNode }),
  /** Remove a node directory or a cluster directory (`<node root>/<account>/<cluster>`), as the account. */
  z.strictObject({ id: Id, op: z.literal('removeNodeDir'), account: HelperAccountSchema, dir: HelperAbsolutePathSchema }),
  /** Run `/bin/sh -c command` as the account in the node directory, with a clean environment. */
  z.strictObject({
    id: Id,
    op: z.literal('run'),
    ...onNode,
    command: z.string().max(HELPER_LIMITS.commandBytes).refine(noNul, 'must not contain a NUL byte'),
    timeoutMs: z.number().int().min(1).max(HELPER_LIMITS.runTimeoutMs).optional(),
  }),
  /**
   * Run `/bin/sh -c command` as the account in the node directory (as `run`), answering its
   * stdout as it comes, in chunk frames (`chunk: true`, the bytes as payload), then once with
   * its exit code. No timeout: it runs until it exits, is aborted, or this connection closes,
   * and each of those ends its whole process group.
   */
  z.strictObject({
    id: Id,
    op: z.literal('stream'),
    ...onNode,
    command: z.string().max(HELPER_LIMITS.commandBytes).refine(noNul, 'must not contain a NUL byte'),
  }),
  /** Bytes of a file from `offset` (at most `max`), read as the account; the bytes are the frame's payload. */
  z.strictObject({ id: Id, op: z.literal('read'), ...onNode, path: HelperPathSchema, offset: Count, max: z.number().int().min(0).max(HELPER_LIMITS.readBytes) }),
  /** Write files under `dir` as the account; their bytes are the payload, in order, `bytes` each. */
  z.strictObject({
    id: Id,
    op: z.literal('writeFiles'),
    ...onNode,
    dir: HelperPathSchema,
    files: z.array(z.strictObject({ path: HelperPathSchema, mode: Mode, bytes: Count })).max(HELPER_LIMITS.files),
  }),
  /** Create `dirs` under `dest` and answer which `files` differ (size or mtime) and must be sent. */
  z.strictObject({
    id: Id,
    op: z.literal('syncPlan'),
    ...onNode,
    dest: HelperPathSchema,
    files: z.array(z.strictObject({ path: HelperPathSchema, size: Count, mtimeMs: z.number().min(0) })).max(HELPER_LIMITS.files),
    dirs: z.array(HelperPathSchema).max(HELPER_LIMITS.files),
  }),
  /**
   * One piece of a file being synced (the payload), written at `offset` of a temporary file that
   * replaces `path` under `dest` once `last` arrives, with `mode` and `mtimeMs`.
   */
  z.strictObject({
    id: Id,
    op: z.literal('syncChunk'),
    ...onNode,
    dest: HelperPathSchema,
    path: HelperPathSchema,
    offset: Count,
    size: Count,
    mode: Mode,
    mtimeMs: z.number().min(0),
    last: z.boolean(),
  }),
  /** Send a signal to a process group as the account (so only one it owns); answers whether the group was alive. */
  z.strictObject({
    id: Id,
    op: z.literal('signal'),
    account: HelperAccountSchema,
    pgid: z.number().int().min(2).max(2 ** 22),
    signal: z.union([z.enum(['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP']), z.literal(0)]),
  }),
  /**
   * An interactive session as the account in the node directory (what `ssh CLUSTER` gets): a
   * login shell, or `command` run by that shell; on a pseudo-terminal (through util-linux
   * `script`) when `pty` is given. Its stdout and stderr come back as chunk frames (`fd: 2` for
   * stderr), its stdin goes in with `sessionInput`, and it answers once, when it has ended, with
   * its exit code or the signal that ended it. Like `stream`: no timeout; an abort or the end of
   * this connection ends its whole process group.
   */
  z.strictObject({
    id: Id,
    op: z.literal('session'),
    ...onNode,
    command: z.string().max(HELPER_LIMITS.commandBytes).refine(noNul, 'must not contain a NUL byte').optional(),
    pty: z.strictObject({ term: z.string().regex(/^[A-Za-z0-9._+-]{1,64}$/), rows: z.number().int().min(1).max(10_000), cols: z.number().int().min(1).max(10_000) }).optional(),
    /** LANG and LC_* only (what sshd accepts from a client by default). */
    env: z.record(z.string().regex(/^(LANG|LC_[A-Z_]{1,32})$/), z.string().max(256).refine(noNul, 'must not contain a NUL byte')).optional(),
  }),
  /**
   * Something for the session `target` of this connection: bytes for its stdin (the payload),
   * the end of its stdin (`eof`), a new terminal size, or a signal for its process group. Answered
   * once the bytes were taken by the session's stdin, so a client that waits paces itself.
   */
  z.strictObject({
    id: Id,
    op: z.literal('sessionInput'),
    target: Id,
    eof: z.boolean().optional(),
    size: z.strictObject({ rows: z.number().int().min(1).max(10_000), cols: z.number().int().min(1).max(10_000) }).optional(),
    signal: z.enum(HELPER_SESSION_SIGNALS).optional(),
  }),
  /** Abandon the call `target` of this connection (a run is killed with its process group). */
  z.strictObject({ id: Id, op: z.literal('abort'), target: Id }),
]);
export type HelperRequest = z.infer<typeof HelperRequestSchema>;
export type HelperOp = HelperRequest['op'];
export const HELPER_OPS = HelperRequestSchema.options.map((o) => o.shape.op.value) as readonly HelperOp[];

/** What each operation answers (in `result`). */
export const HelperResultSchemas = {
  hello: z.object({
    protocol: z.number().int(),
    version: z.string(),
    nodeRoot: z.string(),
    minUid: z.number().int(),
    canCreate: z.boolean(),
    accounts: z.object({ names: z.array(z.string()), prefixes: z.array(z.string()) }),
  }),
  ensureAccount: z.object({ uid: z.number().int(), gid: z.number().int(), created: z.boolean(), home: z.string() }),
  makeNodeDir: z.object({ path: z.string() }),
  statNodeDir: z.object({ exists: z.boolean() }),
  removeNodeDir: z.object({ removed: z.boolean() }),
  run: z.object({ code: z.number().int(), stdout: z.string(), stderr: z.string() }),
  stream: z.object({ code: z.number().int(), stderr: z.string() }),
  read: z.object({ size: z.number().int().min(-1) }),
  writeFiles: z.object({ written: Count }),
  syncPlan: z.object({ need: z.array(Count) }),
  syncChunk: z.object({ written: Count }),
  signal: z.object({ alive: z.boolean() }),
  session: z.union([z.object({ code: z.number().int() }), z.object({ signal: z.string().max(16) })]),
  sessionInput: z.object({ taken: z.boolean() }),
  abort: z.object({ aborted: z.boolean() }),
} satisfies Record<HelperOp, z.ZodType>;
export type HelperResult<O extends HelperOp> = z.infer<(typeof HelperResultSchemas)[O]>;

/**
 * The answer to one request: a result (with payload bytes for `read`), or an error with a
 * catalogue code; before the result of a `stream` or `session`, any number of chunks of its output
 * (a session's stderr with `fd: 2`).
 */
export const HelperResponseSchema = z.union([
  z.strictObject({ id: Id, ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ id: Id, ok: z.literal(true), chunk: z.literal(true), fd: z.literal(2).optional() }),
  z.strictObject({
    id: z.number().int().min(0),
    ok: z.literal(false),
    error: z.strictObject({
      code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
      message: z.string().max(8192),
      hint: z.string().max(2048).optional(),
    }),
  }),
]);
export type HelperResponse = z.infer<typeof HelperResponseSchema>;
