import type { ErrorBody } from '@sky/protocol/wire';
import { SkyError } from '@sky/protocol/wire';

/** Whether a value is a SkyError. */
export function isSkyError(value: unknown): value is SkyError {
  return value instanceof SkyError;
}

export function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' && typeof message === 'string';
}

/** Whether an error is the abort of a caller's AbortSignal (as opposed to a failure). */
export function isAbortError(value: unknown): boolean {
  return value instanceof Error && value.name === 'AbortError';
}
