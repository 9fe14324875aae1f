import type { OperationName, OperationResult, RequestRecord } from '@sky/protocol';
import { SkyError, isErrorCode, isTerminal } from '@sky/protocol/wire';

/**
 * What a finished request came to, typed by its operation: its result when it SUCCEEDED; its
 * own error (with the daemon's stable code) when it FAILED; CANCELLED when it was cancelled.
 * A request that has not ended yet is a caller's mistake and reported as INTERNAL.
 */
export function requestResult<N extends OperationName>(op: N, record: RequestRecord): OperationResult<N> {
  const details = { requestId: record.id, operation: record.name };
  if (record.name !== op) {
    throw new SkyError('INTERNAL', `request ${record.id} is a ${record.name} request, not ${op}`, { details });
  }
  if (!isTerminal(record.status)) {
    throw new SkyError('INTERNAL', `request ${record.id} (${op}) has not ended: it is ${record.status}`, { details });
  }
  if (record.status === 'SUCCEEDED') return record.result as OperationResult<N>;
  const info = record.error;
  if (record.status === 'CANCELLED') {
    throw new SkyError('CANCELLED', info?.message ?? `request ${record.id} (${op}) was cancelled`, { details });
  }
  if (info === undefined) throw new SkyError('OPERATION_FAILED', `request ${record.id} (${op}) failed`, { details, hint: `See its log: sky api logs ${record.id}` });
  return failWith(info.code, info.message, { ...details, ...info.details }, info.hint);
}

function failWith(code: string, message: string, details: Record<string, unknown>, hint: string | undefined): never {
  throw new SkyError(isErrorCode(code) ? code : 'OPERATION_FAILED', message, hint === undefined ? { details } : { details, hint });
}
