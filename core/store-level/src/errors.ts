import { SkyError } from '@sky/protocol';

const LOCKED_HINT = 'another sky daemon is using this state directory; stop it (sky api stop) or set store.path';

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

function causeOf(err: unknown): unknown {
  return err instanceof Error ? err.cause : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Translate a failure of `db.open()` into the error the operator can act on. */
export function openError(path: string, err: unknown): SkyError {
  const cause = causeOf(err);
  if (codeOf(err) === 'LEVEL_LOCKED' || codeOf(cause) === 'LEVEL_LOCKED') {
    return new SkyError('STATE_LOCKED', `the state directory ${path} is locked by another process`, {
      hint: LOCKED_HINT,
      details: { path },
      cause: err,
    });
  }
  const reason = messageOf(cause ?? err);
  const osCode = codeOf(cause);
  return new SkyError('STATE_UNAVAILABLE', `cannot open the state store at ${path}: ${reason}`, {
    hint: 'make sure the directory can be created and written by this user, or set store.path to one that can',
    details: typeof osCode === 'string' ? { path, reason: osCode } : { path },
    cause: err,
  });
}

const DISK_FULL = /No space left on device|Disk quota exceeded|ENOSPC|EDQUOT/;
const FULL_HINT = 'free space on the filesystem that holds the state directory (df -h); writes resume by themselves within seconds once there is room';

/** Whether LevelDB reported a failure of the file system (as opposed to, say, a value it could not encode). */
export function isIoFailure(err: unknown): boolean {
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    if (codeOf(current) === 'LEVEL_IO_ERROR' || /^IO error/.test(messageOf(current)) || DISK_FULL.test(messageOf(current))) return true;
    current = causeOf(current);
  }
  return false;
}

function isDiskFull(err: unknown): boolean {
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    if (DISK_FULL.test(messageOf(current))) return true;
    current = causeOf(current);
  }
  return false;
}

/** A write or read failed after the store was open: DISK_FULL for a full disk or quota, else STATE_UNAVAILABLE. */
export function ioError(path: string, action: string, err: unknown): SkyError {
  if (isDiskFull(err)) {
    return new SkyError('DISK_FULL', `the state store at ${path} failed to ${action}: the disk is full (${messageOf(err)})`, {
      hint: FULL_HINT,
      details: { path },
      cause: err,
    });
  }
  return new SkyError('STATE_UNAVAILABLE', `the state store at ${path} failed to ${action}: ${messageOf(err)}`, {
    hint: 'check free space and permissions of the state directory; the daemon log has the details',
    details: { path },
    cause: err,
  });
}

/**
 * Every write after a failed one, until the store has reopened: LevelDB may have left a partial
 * record at the end of its log, and records appended after it would be lost at the next open.
 */
export function degradedError(path: string, failure: SkyError): SkyError {
  const full = failure.code === 'DISK_FULL';
  const why = full ? 'the disk is full' : `a write failed: ${messageOf(failure.cause ?? failure)}`;
  return new SkyError(failure.code, `the state store at ${path} takes no writes until it has recovered (${why})`, {
    hint: full ? FULL_HINT : 'fix the cause named in the daemon log (sky api logs --server-logs); the store retries by itself every second',
    details: { path },
  });
}

export function notOpenError(path: string): SkyError {
  return new SkyError('STATE_UNAVAILABLE', `the state store at ${path} is not open`, {
    hint: 'open() the store before using it, and do not use it after close()',
    details: { path },
  });
}

export function tooNewError(path: string, found: number, known: number): SkyError {
  return new SkyError(
    'STATE_TOO_NEW',
    `the state store at ${path} has schema version ${found}, but this version of sky knows only up to ${known}`,
    {
      hint: 'upgrade sky to the version that wrote this state, or set store.path to another directory',
      details: { path, found, known },
    },
  );
}

export function corruptError(path: string, what: string): SkyError {
  return new SkyError('STATE_UNAVAILABLE', `the state store at ${path} is damaged: ${what}`, {
    hint: 'restore the state directory from a backup, or set store.path to a new directory',
    details: { path },
  });
}
