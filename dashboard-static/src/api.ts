/**
 * The dashboard's only way to the daemon: the public REST API under /api/v1, with the browser's
 * session cookie (same-origin). Errors come back as ApiError with the daemon's code, message
 * and hint; a 401 also tells the app (which sends the user to the login page).
 */

export const API = '/api/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

let onUnauthorized: (() => void) | undefined;
let gate: Promise<void> = Promise.resolve();

/**
 * Hold every API call until this settles: the app first learns (from public routes) whether the
 * browser is signed in at all, so that a signed-out browser goes to the login page instead of
 * drawing a 401 whose Basic challenge would make the browser prompt for a password.
 */
export function holdCallsUntil(ready: Promise<void>): void {
  gate = ready;
}

/** Resolves when API calls may go out. */
export function callsReleased(): Promise<void> {
  return gate;
}

/** What to do when any API call answers 401 (go to the login page). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function errorFrom(status: number, body: unknown, fallback: string): ApiError {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const e = (body as { error: unknown }).error;
    if (typeof e === 'object' && e !== null) {
      const { code, message, hint } = e as { code?: unknown; message?: unknown; hint?: unknown };
      return new ApiError(status, typeof code === 'string' ? code : 'HTTP_' + status, typeof message === 'string' ? message : fallback, typeof hint === 'string' ? hint : undefined);
    }
  }
  return new ApiError(status, 'HTTP_' + status, fallback);
}

export interface CallOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly body?: unknown;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly signal?: AbortSignal;
  /** Do not hand a 401 to the app (the login page's own calls). */
  readonly quiet401?: boolean;
  /** A public route: goes out at once, before the app knows whether it is signed in. */
  readonly ungated?: boolean;
}

/** A path under /api/v1 with its query. */
export function apiUrl(path: string, query?: CallOptions['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== false) params.set(k, String(v));
  const qs = params.toString();
  return `${API}${path}${qs === '' ? '' : `?${qs}`}`;
}

/** Call a JSON route; resolves with the parsed answer, rejects with ApiError. */
export async function call<T>(path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.ungated !== true) await gate;
  let res: Response;
  try {
    res = await fetch(apiUrl(path, options.query), {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', `cannot reach the API server (${err instanceof Error ? err.message : String(err)})`, 'Check that the daemon is running (sky api info).');
  }
  const text = await res.text();
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && options.quiet401 !== true) onUnauthorized?.();
    throw errorFrom(res.status, body, `${options.method ?? 'GET'} ${path} answered ${res.status} ${res.statusText}`);
  }
  return body as T;
}

/** What a submitted operation answers (202). */
export interface Submitted {
  readonly requestId: string;
  readonly status: string;
}

/** Submit an operation (POST /api/v1/<op>). */
export function submit(op: string, body: unknown): Promise<Submitted> {
  return call<Submitted>(`/${op}`, { method: 'POST', body });
}

/** The error as one line for an alert: message, then the hint. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.hint !== undefined ? `${err.message} (${err.code}). ${err.hint}` : `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

/** Path segment, encoded. */
export const seg = encodeURIComponent;
