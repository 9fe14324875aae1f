import { channel } from 'node:diagnostics_channel';
import { SkyError, toSkyError, type ErrorCode } from '@sky/protocol';
import type { Driver, DriverCallOptions, DriverOperation } from '@sky/plugin-api';

/** A driver operation, or an optional extension the daemon calls the same way. */
export type DriverCall = DriverOperation | 'feasible';

/** Deadlines per driver operation (provisioning real machines can take minutes). */
export const DRIVER_DEADLINES_MS: Record<DriverCall, number> = {
  capacity: 30_000,
  feasible: 60_000,
  provision: 20 * 60_000,
  status: 60_000,
  stop: 10 * 60_000,
  start: 20 * 60_000,
  terminate: 10 * 60_000,
};

/** What callDriver reports of every call it ends (published on DRIVER_CALLS; the daemon's metrics listen). */
export interface DriverCallEnded {
  driverId: string;
  /** The driver instance called: a daemon counts the calls of its own drivers only (several may share a process). */
  driver: Driver;
  op: DriverCall;
  seconds: number;
  /** The SkyError code the call failed with; absent when it succeeded. */
  error?: ErrorCode;
}

/**
 * Where callDriver reports its calls: a diagnostics channel, so the many places that call
 * drivers need no metrics object passed in, and publishing costs nothing while nobody listens.
 */
export const DRIVER_CALLS = channel('sky:driver-call');

function report(ended: DriverCallEnded): void {
  if (DRIVER_CALLS.hasSubscribers) DRIVER_CALLS.publish(ended);
}

/** Codes a driver's error keeps (they say what to do); anything else becomes DRIVER_FAILED. */
const KEEP_CODES: readonly ErrorCode[] = ['NO_CAPACITY', 'CANCELLED', 'NODE_UNREACHABLE', 'NOT_SUPPORTED', 'CONFIG_INVALID', 'VALIDATION_FAILED', 'FORBIDDEN', 'NODE_HELPER_REFUSED'];

/**
 * Call one driver operation with a deadline and the caller's abort signal; whatever it throws
 * comes back as a SkyError tagged with the driver id and the operation.
 */
export async function callDriver<T>(
  driverId: string,
  driver: Driver,
  op: DriverCall,
  options: { signal: AbortSignal; log: (line: string) => void },
  call: (driver: Driver, opts: DriverCallOptions) => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const seconds = (): number => (performance.now() - started) / 1000;
  try {
    const result = await attemptDriverCall(driverId, driver, op, options, call);
    report({ driverId, driver, op, seconds: seconds() });
    return result;
  } catch (err) {
    report({ driverId, driver, op, seconds: seconds(), error: err instanceof SkyError ? err.code : 'DRIVER_FAILED' });
    throw err;
  }
}

/** The call under its deadline and the caller's signal, a failure made a SkyError tagged with the driver and operation. */
async function attemptDriverCall<T>(
  driverId: string,
  driver: Driver,
  op: DriverCall,
  options: { signal: AbortSignal; log: (line: string) => void },
  call: (driver: Driver, opts: DriverCallOptions) => Promise<T>,
): Promise<T> {
  const deadline = AbortSignal.timeout(DRIVER_DEADLINES_MS[op]);
  const signal = AbortSignal.any([options.signal, deadline]);
  const timedOut = new Promise<never>((_, reject) => {
    const onAbort = (): void => {
      const why = deadline.aborted ? `did not finish within ${DRIVER_DEADLINES_MS[op] / 1000} s` : 'was cancelled';
      reject(new SkyError(deadline.aborted ? 'DRIVER_FAILED' : 'CANCELLED', `driver ${driverId}: ${op} ${why}`));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  timedOut.catch(() => undefined); // the race below observes it; never an unhandled rejection
  try {
    return await Promise.race([call(driver, { signal, log: options.log }), timedOut]);
  } catch (thrown) {
    const err = toSkyError(thrown) ?? thrown;
    if (err instanceof SkyError) {
      if (err.message.startsWith(`driver ${driverId}:`)) throw err;
      const code: ErrorCode = KEEP_CODES.includes(err.code) ? err.code : 'DRIVER_FAILED';
      throw new SkyError(code, `driver ${driverId}: ${op}: ${err.message}`, {
        ...(err.hint !== undefined ? { hint: err.hint } : {}),
        details: { driver: driverId, operation: op, ...(err.details ?? {}) },
        cause: err,
      });
    }
    const message = err instanceof Error ? err.message : String(err);
    throw new SkyError('DRIVER_FAILED', `driver ${driverId}: ${op} failed: ${message}`, { details: { driver: driverId, operation: op }, cause: err });
  }
}
