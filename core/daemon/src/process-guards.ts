import type { Logger } from 'pino';
import { toSkyError } from '@sky/protocol';

/** OS errors that say the machine ran out of something or a descriptor went away — not a bug in sky. */
const ENVIRONMENT_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EBADF', 'EPIPE', 'EROFS', 'EFBIG', 'EAGAIN']);
/** Catalogue codes that carry such a failure out of the state store. */
const ENVIRONMENT_CODES = new Set(['DISK_FULL', 'STATE_UNAVAILABLE']);

function errnoOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
}

/**
 * Whether an error comes from the environment (full disk, I/O error, closed stream) rather
 * than from a mistake in the code: such errors are survived, everything else is a bug.
 */
export function isEnvironmentFailure(err: unknown): boolean {
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const errno = errnoOf(current);
    if (typeof errno === 'string' && ENVIRONMENT_ERRNOS.has(errno)) return true;
    const sky = toSkyError(current);
    if (sky && ENVIRONMENT_CODES.has(sky.code)) return true;
    if (current instanceof Error && /No space left on device|Disk quota exceeded|Input\/output error/.test(current.message)) return true;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

export interface GuardOptions {
  logger: Logger;
  /** True while the server log drops lines: what is reported then also goes to stderr. */
  logFailing: () => boolean;
  stderr: (text: string) => void;
  exit: (code: number) => void;
  /**
   * Whether the error comes from a plugin's code; when it does, the callee has stopped that
   * plugin and logged the fault (stack, plugin id, package, version), and the daemon carries on.
   */
  attribute?: (kind: string, err: unknown) => boolean;
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
}

/** What the process-level handlers do, separate from installing them (so they can be tested). */
export interface GuardHandlers {
  rejection(reason: unknown): void;
  exception(err: unknown): void;
}

/**
 * Process-level handlers. A failure of the environment that escaped its caller (an unhandled
 * rejection from a write on a full disk, an 'error' event of stdout on a closed pipe) is logged
 * and survived. One whose stack runs through a plugin's package (a throw in the plugin's timer or
 * event listener, a rejection it left unhandled) stops that plugin and is survived. Anything else is a bug: it is logged at fatal level and written to stderr, and
 * the process exits with status 1 as Node would (the state store keeps every accepted request,
 * so the next start picks them up).
 */
export function guardHandlers(options: GuardOptions): GuardHandlers {
  const { logger, logFailing, stderr, exit, attribute } = options;
  const log = (write: () => void): void => {
    try {
      write();
    } catch {
      // the destination never throws; a serializer might, and must not turn a report into a crash
    }
  };
  const blamedOnPlugin = (kind: string, err: unknown): boolean => {
    try {
      return attribute?.(kind, err) ?? false;
    } catch {
      return false;
    }
  };
  const report = (kind: string, err: unknown): void => {
    if (isEnvironmentFailure(err)) {
      log(() => logger.warn({ err, kind }, `${kind} from a failing disk or stream; the daemon carries on`));
      if (logFailing()) stderr(`sky daemon: ${kind} (survived): ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (blamedOnPlugin(kind, err)) {
      if (logFailing()) stderr(`sky daemon: ${kind} in plugin code (the plugin is stopped; the daemon carries on): ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    log(() => logger.fatal({ err, kind }, `${kind}: this is a bug in sky; the daemon exits`));
    stderr(`sky daemon: ${kind}: this is a bug in sky; the daemon exits\n${describe(err)}`);
    exit(1);
  };
  return {
    rejection: (reason) => report('unhandled rejection', reason),
    exception: (err) => report('uncaught exception', err),
  };
}

/** Install the guards on this process (main does, once). Returns a function that removes them. */
export function installProcessGuards(options: GuardOptions): () => void {
  const handlers = guardHandlers(options);
  const onRejection = (reason: unknown): void => handlers.rejection(reason);
  const onException = (err: unknown): void => handlers.exception(err);
  // stdout and stderr are best effort: a closed pipe or a full disk behind them is no reason to stop.
  const ignore = (): void => undefined;
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    process.stdout.off('error', ignore);
    process.stderr.off('error', ignore);
  };
}
