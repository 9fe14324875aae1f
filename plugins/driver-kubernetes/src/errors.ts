import { SkyError } from '@sky/protocol/wire';

/** What the API server said about a failed call, from client-node's ApiException (or a network error). */
export interface ApiFailure {
  /** HTTP status; undefined when the server was not reached. */
  code: number | undefined;
  message: string;
  reason: string | undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

/** The status code and message of anything a client-node call rejected with. */
export function apiFailure(error: unknown): ApiFailure {
  const e = record(error);
  const code = typeof e?.['code'] === 'number' ? e['code'] : undefined;
  if (code === undefined || e === undefined) {
    const cause = record(e?.['cause']);
    const detail = typeof cause?.['message'] === 'string' ? `: ${cause['message']}` : '';
    return { code: undefined, message: `${error instanceof Error ? error.message : String(error)}${detail}`, reason: undefined };
  }
  let body: unknown = e['body'];
  const text = body;
  if (typeof text === 'string') {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return { code, message: text.trim() === '' ? `HTTP ${code}` : text.trim(), reason: undefined };
    }
  }
  const b = record(body);
  const message = typeof b?.['message'] === 'string' ? b['message'] : `HTTP ${code}`;
  const reason = typeof b?.['reason'] === 'string' ? b['reason'] : undefined;
  return { code, message, reason };
}

export function isNotFound(error: unknown): boolean {
  return apiFailure(error).code === 404;
}

export function isConflict(error: unknown): boolean {
  return apiFailure(error).code === 409;
}

/** What was being done, for messages: `create pods in namespace team-a of context prod`. */
export interface CallSite {
  verb: string;
  resource: string;
  namespace?: string;
  context: string;
  server?: string;
}

function where(site: CallSite): string {
  const scope = site.namespace === undefined ? 'cluster-wide' : `in namespace ${site.namespace}`;
  return `${site.verb} ${site.resource} ${scope} of Kubernetes context ${site.context}`;
}

/** A failed API call as a SkyError: DRIVER_FAILED naming what was done, where, and how to fix it. */
export function apiError(error: unknown, site: CallSite): SkyError {
  if (error instanceof SkyError) return error;
  const f = apiFailure(error);
  if (f.code === undefined) {
    return new SkyError('DRIVER_FAILED', `cannot reach the Kubernetes API server of context ${site.context}${site.server === undefined ? '' : ` (${site.server})`} to ${site.verb} ${site.resource}: ${f.message}`, {
      hint: 'Check that the server in the kubeconfig is up and reachable from the sky daemon, and that its certificate is trusted.',
      cause: error,
    });
  }
  if (f.code === 403) {
    const ns = site.namespace === undefined ? 'a ClusterRole and ClusterRoleBinding' : `a Role and RoleBinding in namespace ${site.namespace}`;
    return new SkyError('DRIVER_FAILED', `forbidden: the kubeconfig user may not ${where(site)}: ${f.message}`, {
      hint: `Grant the user the verb ${site.verb} on ${site.resource} (${ns}); \`sky check k8s\` lists every permission the driver needs.`,
      cause: error,
    });
  }
  if (f.code === 401) {
    return new SkyError('DRIVER_FAILED', `the Kubernetes API server of context ${site.context} refused the kubeconfig's credentials (${f.message})`, {
      hint: 'Refresh the credentials of that context in the kubeconfig.',
      cause: error,
    });
  }
  return new SkyError('DRIVER_FAILED', `Kubernetes refused to ${where(site)} (HTTP ${f.code}${f.reason === undefined ? '' : ` ${f.reason}`}): ${f.message}`, {
    hint: 'See the message of the API server; `sky check k8s` checks the context.',
    cause: error,
  });
}

/** SkyError CANCELLED for an aborted call. */
export function cancelled(what: string, signal: AbortSignal): SkyError {
  return new SkyError('CANCELLED', `${what} was cancelled`, { cause: signal.reason });
}

/** Resolve `promise`, or reject with CANCELLED as soon as `signal` aborts (the promise is left to settle alone). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(cancelled(what, signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelled(what, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
