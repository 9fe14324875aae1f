import pg from 'pg';

/** Placeholder entry; replaced by the PostgreSQL state store. */
export function poolClass(): typeof pg.Pool {
  return pg.Pool;
}
