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
  abort: z.object({ aborted: z.boolean() }),
} satisfies Record<HelperOp, z.ZodType>;
export type HelperResult<O extends HelperOp> = z.infer<(typeof HelperResultSchemas)[O]>;

/**
 * The answer to one request: a result (with payload bytes for `read`), or an error with a
 * catalogue code; before the result of a `stream`, any number of chunks of its output.
 */
export const HelperResponseSchema = z.union([
  z.strictObject({ id: Id, ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ id: Id, ok: z.literal(true), chunk: z.literal(true) }),
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
