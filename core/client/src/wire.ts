import type * as P from '@sky/protocol';

/*
 * The wire constants of @sky/protocol, restated here so that loading the client does not load
 * zod (importing the protocol package costs ~55 ms, more than half of a CLI call's budget).
 * Each literal is typed as the protocol's own constant, so a change there fails to compile
 * here; test/unit/client-wire.test.ts checks the derived paths against the route table.
 */
export const API_VERSION: typeof P.API_VERSION = 1;
export const API_VERSION_HEADER: typeof P.API_VERSION_HEADER = 'x-sky-api-version';
export const IDEMPOTENCY_KEY_HEADER: typeof P.IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const USER_NAME_HEADER: typeof P.USER_NAME_HEADER = 'x-sky-user-name';
export const USER_ID_HEADER: typeof P.USER_ID_HEADER = 'x-sky-user-id';
export const DEFAULT_HOST: typeof P.DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT: typeof P.DEFAULT_PORT = 46580;
export const DEFAULT_ENDPOINT = `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
export const API_PREFIX = `/api/v${API_VERSION}`;

/** Request statuses and whether each is final; a status added to the protocol fails to compile here. */
export const STATUS_IS_TERMINAL: Readonly<Record<P.RequestStatus, boolean>> = {
  PENDING: false,
  RUNNING: false,
  SUCCEEDED: true,
  FAILED: true,
  CANCELLED: true,
};

export function isTerminalStatus(status: P.RequestStatus): boolean {
  return STATUS_IS_TERMINAL[status];
}

/** Paths of the routes in ROUTES (core/protocol/src/routes.ts) that the client calls. */
export const PATHS = {
  health: '/api/health',
  openapi: `${API_PREFIX}/openapi.json`,
  listRequests: `${API_PREFIX}/requests`,
  cancelRequests: `${API_PREFIX}/requests/cancel`,
  getRequest: (id: string) => `${API_PREFIX}/requests/${encodeURIComponent(id)}`,
  waitRequest: (id: string) => `${API_PREFIX}/requests/${encodeURIComponent(id)}/wait`,
  requestLogs: (id: string) => `${API_PREFIX}/requests/${encodeURIComponent(id)}/logs`,
  serverLogs: `${API_PREFIX}/server/logs`,
  submit: (op: P.OperationName) => `${API_PREFIX}/${op}`,
} as const;
