import { SkyError, toSkyError } from '@sky/protocol';

/** The exit code of a daemon its state store refused for a reason retrying will not fix (EX_CONFIG of sysexits.h). */
export const STORE_REFUSED_EXIT_CODE = 78;

const refusals = new WeakSet<object>();

/**
 * Whether a failed store.open() is worth retrying: the store says the database is unreachable
 * (STATE_UNAVAILABLE with a retryAfterSeconds). A bad URL, refused credentials, a missing
 * database, a missing permission, a newer schema (STATE_TOO_NEW), a locked LevelDB directory
 * or invalid config are not.
 */
export function retryableOpenFailure(err: unknown): SkyError | undefined {
  const sky = toSkyError(err);
  if (sky === undefined || sky.code !== 'STATE_UNAVAILABLE') return undefined;
  return typeof sky.details?.retryAfterSeconds === 'number' ? sky : undefined;
}

/** The error a fatal open failure stops the daemon with (marked for exit code 78); a locked LevelDB directory says what to do instead. */
export function storeRefusal(err: unknown): Error {
  const sky = toSkyError(err);
  let refusal: Error = err instanceof Error ? err : new Error(String(err));
  if (sky?.code === 'STATE_LOCKED') {
    refusal = new SkyError('STATE_LOCKED', `${sky.message}: LevelDB is one daemon per state directory, and another daemon has it open`, {
      hint: 'Stop the other daemon (sky api stop) or give this one its own state_dir. To run several replicas of the API server, point every replica at one PostgreSQL: store: {kind: postgres, url: postgres://USER@HOST/DB} (or SKY_DB_URL).',
      ...(sky.details !== undefined ? { details: sky.details } : {}),
      cause: err,
    });
  } else if (sky !== undefined) {
    refusal = sky;
  }
  refusals.add(refusal);
  return refusal;
}

/** Whether the daemon stopped because its store refused it (exit with STORE_REFUSED_EXIT_CODE). */
export function isStoreRefusal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && refusals.has(err);
}

/** Delay before open attempt `attempt` (1, 2, …): 250 ms doubling up to 5 s, with ±20 % jitter so replicas do not retry in step. */
export function openBackoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(5000, 250 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}
