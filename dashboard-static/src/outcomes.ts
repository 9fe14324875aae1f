/**
 * What the user's actions led to: each submitted request with its status, followed until it
 * ends (GET /requests/:id/wait), and the messages of actions that answer at once. Shown in the
 * app's status region; errors go to its alert region.
 */
import { call, errorText, seg } from './api.js';
import { Store } from './store.js';
import { TERMINAL_REQUEST, type RequestRecord } from './types.js';

export interface Outcome {
  readonly id: number;
  /** The request, when the action submitted one. */
  readonly requestId?: string;
  readonly label: string;
  readonly status?: string;
  readonly detail?: string;
}

export const outcomes = new Store<readonly Outcome[]>([]);
export const alerts = new Store<string | undefined>(undefined);

let nextId = 1;
const KEEP = 3;

function put(o: Outcome): void {
  outcomes.update((list) => [o, ...list.filter((x) => x.id !== o.id)].slice(0, KEEP));
}

export function showAlert(err: unknown): void {
  alerts.set(errorText(err));
}

export function clearAlert(): void {
  alerts.set(undefined);
}

export function showMessage(label: string): void {
  put({ id: nextId++, label });
}

/** Show a submitted request and follow it to its end; resolves with its last record. */
export async function track(requestId: string, label: string, status = 'PENDING'): Promise<RequestRecord | undefined> {
  const id = nextId++;
  put({ id, requestId, label, status });
  for (let attempt = 0; attempt < 1000; attempt++) {
    let record: RequestRecord;
    try {
      record = await call<RequestRecord>(`/requests/${seg(requestId)}/wait`, { query: { timeout: 30 } });
    } catch (err) {
      put({ id, requestId, label, status, detail: `cannot follow it: ${errorText(err)}` });
      return undefined;
    }
    const detail = record.error !== undefined ? `${record.error.message}${record.error.hint !== undefined ? ` ${record.error.hint}` : ''}` : undefined;
    put({ id, requestId, label, status: record.status, ...(detail !== undefined ? { detail } : {}) });
    if (TERMINAL_REQUEST.includes(record.status)) return record;
  }
  return undefined;
}
