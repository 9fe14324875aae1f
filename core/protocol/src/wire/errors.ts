/**
 * The one catalogue of error codes. Every error the daemon, the SDK or the CLI reports
 * carries one of these codes; the HTTP status is derived from the code, never chosen ad hoc.
 */
export const ERROR_CATALOGUE = {
  INVALID_JSON: { status: 400, summary: 'The request body is not valid JSON.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'The request body must be application/json.' },
  PAYLOAD_TOO_LARGE: { status: 413, summary: 'The request body exceeds the configured limit.' },
  HEADERS_TOO_LARGE: { status: 431, summary: 'The request line or headers are too large.' },
  MALFORMED_HTTP: { status: 400, summary: 'The request is not well-formed HTTP.' },
  HTTPS_REQUIRED: { status: 400, summary: 'The listener serves HTTPS only; a plain-HTTP request was refused.' },
  REQUEST_TIMEOUT: { status: 408, summary: 'The request line, headers or body did not arrive in time.' },
  TOO_MANY_CONNECTIONS: { status: 503, summary: 'The connection cap (per client address or in total) is reached; retry later.' },
  VALIDATION_FAILED: { status: 400, summary: 'A field of the body, query or path is invalid.' },
  VERSION_MISMATCH: { status: 400, summary: 'Client and daemon speak different API versions.' },
  ROUTE_NOT_FOUND: { status: 404, summary: 'No such API route.' },
  METHOD_NOT_ALLOWED: { status: 405, summary: 'The route exists but not with this HTTP method.' },
  REQUEST_NOT_FOUND: { status: 404, summary: 'No request with this id.' },
  IDEMPOTENCY_CONFLICT: { status: 409, summary: 'The idempotency key was already used by this user for another operation or body.' },
  QUEUE_FULL: { status: 503, summary: 'Too many requests are waiting to start (in total, of this user, or in body bytes); retry shortly.' },
  SHUTTING_DOWN: { status: 503, summary: 'The daemon is draining and accepts no new requests.' },
  CANCELLED: { status: 409, summary: 'The request was cancelled.' },
  DAEMON_RESTARTED: { status: 500, summary: 'The daemon restarted while the request was running and it could neither be resumed nor completed; the message says what was left behind.' },
  REQUEST_NOT_RUNNING: { status: 409, summary: 'The request had already ended (cancelled, or settled elsewhere) or already queued its job when it tried to queue one; nothing more was queued.' },
  OPERATION_FAILED: { status: 500, summary: 'The operation ran and failed.' },
  CONFIG_INVALID: { status: 400, summary: 'A configuration file or key is invalid.' },
  TASK_INVALID: { status: 400, summary: 'A task (YAML, command or override) is invalid.' },
  TASK_UNSUPPORTED: { status: 400, summary: 'valid in SkyPilot but not supported yet' },
  STATE_LOCKED: { status: 503, summary: 'The state store is held by another daemon.' },
  STATE_UNAVAILABLE: { status: 503, summary: 'The state store cannot be opened or written.' },
  STATE_TOO_NEW: { status: 503, summary: 'The state store was written by a newer version.' },
  STATE_NOT_EMPTY: { status: 409, summary: 'A state import needs an empty store, and this one already holds records.' },
  STATE_FILE_INVALID: { status: 400, summary: 'A state file (sky api export) is not one this version can import: not sky-state, a newer format version, truncated or inconsistent.' },
  DISK_FULL: { status: 503, summary: 'The disk (or quota) holding the state store is full; writes resume by themselves once there is room.' },
  SECRETS_KEY_UNAVAILABLE: { status: 503, summary: 'The key that encrypts task secrets at rest is missing, unreadable or not the one that sealed them.' },
  PLUGIN_NOT_FOUND: { status: 500, summary: 'A configured plugin package is not installed.' },
  PLUGIN_LOAD_FAILED: { status: 500, summary: 'A plugin package failed to import.' },
  PLUGIN_INVALID: { status: 500, summary: 'A package is not a sky plugin.' },
  PLUGIN_API_MISMATCH: { status: 500, summary: 'A plugin needs a plugin-API version this daemon lacks.' },
  PLUGIN_CONFIG_INVALID: { status: 400, summary: "A plugin's config block is invalid." },
  PLUGIN_INIT_FAILED: { status: 500, summary: "A plugin's init threw." },
  PLUGIN_INIT_TIMEOUT: { status: 500, summary: "A plugin's init did not finish in time." },
  PLUGIN_INSTALL_FAILED: { status: 502, summary: 'npm could not install a plugin package into the plugins directory.' },
  PLUGIN_FAILED: { status: 409, summary: 'A configured plugin failed to load, or was stopped after a fault in its code; it serves nothing until an operator fixes it.' },
  SERVER_UNREACHABLE: { status: 503, summary: 'The client cannot reach the API server.' },
  SERVER_CERT_INVALID: { status: 502, summary: "The client could not verify the API server's TLS certificate." },
  SERVER_START_FAILED: { status: 503, summary: 'The local API server could not be started.' },
  PORT_IN_USE: { status: 503, summary: 'The listen address is already in use.' },
  USAGE: { status: 400, summary: 'Bad command-line usage.' },
  UNAUTHENTICATED: { status: 401, summary: 'No valid credentials (password, token or trusted proxy header).' },
  FORBIDDEN: { status: 403, summary: 'Authenticated, but not allowed to do this.' },
  TOO_MANY_ATTEMPTS: { status: 429, summary: 'Too many failed logins (or password changes); retry after the given time.' },
  HOST_NOT_ALLOWED: { status: 421, summary: 'The Host header names a host this API server does not serve (a personal server answers loopback names only).' },
  ORIGIN_NOT_ALLOWED: { status: 403, summary: 'The Origin header names another site (cross-site request or DNS rebinding).' },
  LOGIN_METHOD_DISABLED: { status: 400, summary: 'This way of logging in is not offered by this API server (GET /api/v1/auth/methods says which is).' },
  AUTH_BUSY: { status: 503, summary: 'Too many password checks are waiting; retry shortly.' },
  USER_NOT_FOUND: { status: 404, summary: 'No user with this name.' },
  USER_EXISTS: { status: 409, summary: 'A user with this name already exists.' },
  USER_OWNS_CLUSTERS: { status: 409, summary: 'The user still owns clusters: delete them with transfer_to (another user) or down.' },
  TOKEN_NOT_FOUND: { status: 404, summary: 'No token with this id.' },
  WORKSPACE_NOT_FOUND: { status: 404, summary: 'No workspace with this name.' },
  WORKSPACE_EXISTS: { status: 409, summary: 'A workspace with this name already exists.' },
  WORKSPACE_IN_USE: { status: 409, summary: 'The workspace still has clusters (or is the default one) and cannot be deleted.' },
  NO_CAPACITY: { status: 409, summary: 'The driver cannot fit the requested nodes; the message names the capacity left.' },
  NODE_UNREACHABLE: { status: 503, summary: 'A node of the cluster cannot be reached.' },
  DRIVER_FAILED: { status: 502, summary: 'A driver operation failed in the infrastructure it drives.' },
  CLUSTER_NOT_FOUND: { status: 404, summary: 'No cluster with this name.' },
  CLUSTER_NAME_TAKEN: { status: 409, summary: 'The cluster name belongs to another user.' },
  CLUSTER_NOT_UP: { status: 409, summary: 'The cluster is not UP (stopped, or still being provisioned).' },
  JOB_NOT_FOUND: { status: 404, summary: "No job with this id in the cluster's queue." },
  MANAGED_JOB_NOT_FOUND: { status: 404, summary: 'No managed job with this id (or name) among those the caller may see.' },
  SERVICE_NOT_FOUND: { status: 404, summary: 'No service with this name among those the caller may see.' },
  SERVICE_EXISTS: { status: 409, summary: 'A service with this name already exists (service names are unique across users).' },
  SERVICE_CLEANUP_FAILED: { status: 500, summary: "Tearing down a service's replica clusters failed; the service is kept (FAILED_CLEANUP) until a down succeeds or --purge forgets it." },
  RESOURCES_UNAVAILABLE: { status: 409, summary: "The task asks for more than the cluster's nodes have." },
  NO_DRIVER: { status: 409, summary: 'No enabled driver can run the task (see the enabled infra).' },
  NODE_RUNTIME_ERROR: { status: 502, summary: 'The node runtime gave an answer sky cannot read.' },
  NODE_HELPER_REFUSED: { status: 403, summary: 'sky-node-helper refused: the OS account or path is outside what it allows.' },
  NOT_SUPPORTED: { status: 400, summary: 'The driver cannot do this operation' },
  UPGRADE_REQUIRED: { status: 426, summary: 'The route carries an SSH tunnel: it must be called with Upgrade: sky-ssh (sky ssh-proxy does).' },
  TOO_MANY_TUNNELS: { status: 429, summary: 'The user already holds as many SSH tunnels as the API server allows at a time.' },
  UPLOAD_NOT_FOUND: { status: 404, summary: 'No upload (manifest or chunk) with this id among yours.' },
  UPLOAD_INVALID: { status: 400, summary: 'An upload manifest is malformed (paths, sizes, chunk lists, duplicates).' },
  UPLOAD_INCOMPLETE: { status: 409, summary: 'An upload still lacks some of its chunks.' },
  UPLOAD_TOO_LARGE: { status: 413, summary: 'An upload exceeds the per-upload limit (uploads.max_upload_bytes or max_files).' },
  UPLOAD_QUOTA_EXCEEDED: { status: 413, summary: "Storing the upload would exceed the user's storage quota (uploads.quota_bytes)." },
  CHUNK_HASH_MISMATCH: { status: 400, summary: 'The bytes sent for a chunk do not have the sha256 its URL names.' },
  SERVER_PATH_REFUSED: { status: 400, summary: "A task names a path on the API server's host; upload it instead (the CLI and SDK do)." },
  INTERNAL: { status: 500, summary: 'An unexpected error inside sky.' },
  WEBHOOKS_DISABLED: { status: 400, summary: 'Webhooks are off on this API server: its config allows no address (webhooks.allow).' },
  WEBHOOK_URL_NOT_ALLOWED: { status: 400, summary: "A webhook's URL (or an address its host resolves to) is not in the API server's webhooks.allow." },
  WEBHOOK_NOT_FOUND: { status: 404, summary: 'No webhook with this id in the workspace.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

export interface SkyErrorOptions {
  /** How to fix it, in one sentence. */
  hint?: string;
  /** Machine-readable extras (e.g. the offending field). Never secrets. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** The single error type of the project: a stable code, a message saying what and where, a hint saying how to fix. */
export class SkyError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: SkyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SkyError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  get status(): number {
    return httpStatusOf(this.code);
  }

  toBody(): ErrorBody {
    const error: ErrorBody['error'] = { code: this.code, message: this.message };
    if (this.hint !== undefined) error.hint = this.hint;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }

  static fromBody(body: ErrorBody): SkyError {
    const { code, message, hint, details } = body.error;
    const options: SkyErrorOptions = {};
    if (hint !== undefined) options.hint = hint;
    if (details !== undefined) options.details = details;
    return new SkyError(isErrorCode(code) ? code : 'INTERNAL', message, options);
  }
}

/**
 * The SkyError in `value`, also when it comes from another copy of this package (a plugin
 * loads its own, so `instanceof` alone would miss its errors): same name, a catalogue code.
 */
export function toSkyError(value: unknown): SkyError | undefined {
  if (value instanceof SkyError) return value;
  if (!(value instanceof Error) || value.name !== 'SkyError') return undefined;
  const { code, hint, details } = value as Error & { code?: unknown; hint?: unknown; details?: unknown };
  if (!isErrorCode(code)) return undefined;
  const options: SkyErrorOptions = { cause: value };
  if (typeof hint === 'string') options.hint = hint;
  if (typeof details === 'object' && details !== null) options.details = details as Record<string, unknown>;
  return new SkyError(code, value.message, options);
}

/** The JSON body of every error answer. */
export interface ErrorInfo {
  /** A stable code from the error catalogue. */
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}
export interface ErrorBody {
  error: ErrorInfo;
}
