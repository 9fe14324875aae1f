import { SkyError } from '@sky/protocol';
import { redactUrl } from './url.js';

/** Seconds a client is told to wait before retrying while the database is away. */
export const RETRY_AFTER_SECONDS = 5;

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const NODE_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
/** SQLSTATEs that mean "the server or this connection is not there" rather than "the statement is wrong". */
const SERVER_GONE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '53000']);

/** Whether the error means the database could not be reached (the store is unavailable, not the request wrong). */
export function isConnectionFailure(err: unknown): boolean {
  const code = field(err, 'code');
  if (typeof code === 'string') {
    if (NODE_CONNECTION_CODES.has(code) || SERVER_GONE_STATES.has(code) || code.startsWith('08')) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused|not queryable/i.test(messageOf(err));
}

/** Why the database refused the store at open(), as an error the operator can act on. */
export function openError(url: string, err: unknown): SkyError {
  const where = redactUrl(url);
  const code = field(err, 'code');
  const details = { url: where, ...(typeof code === 'string' ? { reason: code } : {}) };
  if (code === '28P01' || code === '28000') {
    return new SkyError('STATE_UNAVAILABLE', `PostgreSQL at ${where} refused the credentials: ${messageOf(err)}`, {
      hint: 'fix the user and password in store.url (or SKY_DB_URL), or the server\'s pg_hba.conf',
      details,
      cause: err,
    });
  }
  if (code === '3D000') {
    return new SkyError('STATE_UNAVAILABLE', `PostgreSQL at ${where} has no such database: ${messageOf(err)}`, {
      hint: 'create the database (createdb NAME) or name an existing one in store.url',
      details,
      cause: err,
    });
  }
  if (code === '42501') {
    return new SkyError('STATE_UNAVAILABLE', `PostgreSQL at ${where} denied the store a permission it needs: ${messageOf(err)}`, {
      hint: 'grant the user CREATE on the database (for the schema) or create the schema for it beforehand',
      details,
      cause: err,
    });
  }
  if (isConnectionFailure(err)) {
    return new SkyError('STATE_UNAVAILABLE', `cannot reach PostgreSQL at ${where}: ${messageOf(err)}`, {
      hint: 'start the database server or fix the host and port in store.url; check with psql "URL"',
      details: { ...details, retryAfterSeconds: RETRY_AFTER_SECONDS },
      cause: err,
    });
  }
  return new SkyError('STATE_UNAVAILABLE', `cannot open the state store in PostgreSQL at ${where}: ${messageOf(err)}`, {
    hint: 'the daemon log has the details; check the server\'s log for the same time',
    details,
    cause: err,
  });
}

/**
 * A failure of an operation on an open store. Connection failures say to retry. The message
 * reaches API clients (as a 503 body), so it names no host or URL; the cause, logged by the
 * daemon, has the details.
 */
export function operationError(action: string, err: unknown): SkyError {
  if (err instanceof SkyError) return err;
  if (isConnectionFailure(err)) {
    return new SkyError('STATE_UNAVAILABLE', `the state store cannot reach its PostgreSQL database to ${action}: ${messageOf(err)}`, {
      hint: 'the store reconnects by itself once the database answers again; retry shortly',
      details: { retryAfterSeconds: RETRY_AFTER_SECONDS },
      cause: err,
    });
  }
  const code = field(err, 'code');
  return new SkyError('STATE_UNAVAILABLE', `the state store failed to ${action} in its PostgreSQL database: ${messageOf(err)}`, {
    hint: 'the daemon log and the database server\'s log have the details',
    details: typeof code === 'string' ? { reason: code } : {},
    cause: err,
  });
}

export function notOpenError(url: string): SkyError {
  return new SkyError('STATE_UNAVAILABLE', `the state store in PostgreSQL at ${redactUrl(url)} is not open`, {
    hint: 'open() the store before using it, and do not use it after close()',
    details: { url: redactUrl(url) },
  });
}

export function tooNewError(url: string, schema: string, found: number, known: number): SkyError {
  return new SkyError(
    'STATE_TOO_NEW',
    `the state store in schema "${schema}" at ${redactUrl(url)} has schema version ${found}, but this version of sky knows only up to ${known}`,
    {
      hint: 'upgrade this replica to the version of sky the other replicas run (an older one must not write a newer schema)',
      details: { url: redactUrl(url), schema, found, known },
    },
  );
}

export function invalid(message: string, field: string): SkyError {
  return new SkyError('VALIDATION_FAILED', message, { details: { field } });
}

/** Whether a pg error is a unique violation (SQLSTATE 23505), optionally of one constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return field(err, 'code') === '23505' && (constraint === undefined || field(err, 'constraint') === constraint);
}
