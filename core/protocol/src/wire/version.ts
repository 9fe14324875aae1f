/** Version of the REST protocol spoken between clients and the daemon. Bump on breaking change. */
export const API_VERSION = 1;

/** Header every client sends and the daemon answers with. */
export const API_VERSION_HEADER = 'x-sky-api-version';
/** Header every answer carries: the id of the daemon replica that answered (for load-balanced replicas). */
export const REPLICA_HEADER = 'x-sky-replica';
/** Header carrying the id of a request the daemon just accepted. */
export const REQUEST_ID_HEADER = 'x-sky-request-id';
/** Header a client may send so a retried submit returns the first request. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/**
 * RFC 7240 preferences on a submit: `Prefer: wait=N` asks the daemon to hold its 202 for up to
 * N seconds (at most requests.max_wait_seconds) until the request has ended, so a client that
 * only needs the outcome of a quick operation makes one round trip. The daemon names the wait
 * it applied in Preference-Applied.
 */
export const PREFER_HEADER = 'prefer';
export const PREFERENCE_APPLIED_HEADER = 'preference-applied';
/** Identity headers for the loopback, no-auth mode. */
export const USER_NAME_HEADER = 'x-sky-user-name';
export const USER_ID_HEADER = 'x-sky-user-id';
/**
 * Header carrying the personal daemon's local token (auth mode none): a secret in a 0600 file
 * (~/.sky/api_server/local_token) that proves the caller is the OS account that owns the daemon.
 */
export const LOCAL_TOKEN_HEADER = 'x-sky-local-token';
/** File name of the local token inside the daemon's state directory. */
export const LOCAL_TOKEN_FILE = 'local_token';
/** Cookie holding a browser session (set by the one-time login link of `sky dashboard`). */
export const SESSION_COOKIE = 'sky_session';
/** Header naming the workspace an operation runs in (default: `default`). */
export const WORKSPACE_HEADER = 'x-sky-workspace';
/** The workspace every daemon has and that cannot be deleted. */
export const DEFAULT_WORKSPACE = 'default';
/** Env var holding a bearer token for the API server (overrides api_server.token in ~/.sky/config.yaml). */
export const TOKEN_ENV = 'SKYPILOT_API_SERVER_TOKEN';

/** URL prefix of the versioned REST API. */
export const API_PREFIX = `/api/v${API_VERSION}`;

export const DEFAULT_PORT = 46580;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_ENDPOINT = `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
