import type { ErrorBody, ErrorCode, SkyError, SkyErrorOptions } from '@sky/protocol';

/*
 * SkyError lives in @sky/protocol next to the zod schemas, and loading those costs more than
 * a fast CLI call may spend. Errors are the slow path: the protocol package is loaded only
 * when one has to be built, so every error the client throws is still a real SkyError.
 */
let protocol: Promise<typeof import('@sky/protocol')> | undefined;

function loadProtocol(): Promise<typeof import('@sky/protocol')> {
  protocol ??= import('@sky/protocol');
  return protocol;
}

export async function skyError(code: ErrorCode, message: string, options: SkyErrorOptions = {}): Promise<SkyError> {
  const { SkyError: SkyErrorClass } = await loadProtocol();
  return new SkyErrorClass(code, message, options);
}

export async function skyErrorFromBody(body: ErrorBody): Promise<SkyError> {
  const { SkyError: SkyErrorClass } = await loadProtocol();
  return SkyErrorClass.fromBody(body);
}

/** Whether a value is a SkyError, without loading the protocol package to ask instanceof. */
export function isSkyError(value: unknown): value is SkyError {
  return value instanceof Error && value.name === 'SkyError' && typeof (value as { code?: unknown }).code === 'string';
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
