import { SkyError } from '@sky/protocol';
import type { Leases } from '@sky/plugin-api';
import type { Db } from './db.js';

export type { Leases };

function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs < 1) {
    throw new SkyError('VALIDATION_FAILED', `a lease's ttlMs must be a positive whole number of milliseconds, got ${ttlMs}`, { details: { field: 'ttlMs' } });
  }
}

export class PgLeases implements Leases {
  constructor(private readonly db: () => Db) {}

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const rows = await this.db().rows('acquire a lease',
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE leases.expires_at <= clock_timestamp() OR leases.holder = excluded.holder
       RETURNING holder`,
      [name, holder, ttlMs],
    );
    return rows.length > 0;
  }

  async renew(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const rows = await this.db().rows('renew a lease',
      `UPDATE leases SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
        WHERE name = $1 AND holder = $2 AND expires_at > clock_timestamp() RETURNING holder`,
      [name, holder, ttlMs],
    );
    return rows.length > 0;
  }

  async release(name: string, holder: string): Promise<boolean> {
    const rows = await this.db().rows('release a lease', 'DELETE FROM leases WHERE name = $1 AND holder = $2 RETURNING holder', [name, holder]);
    return rows.length > 0;
  }

  async holder(name: string): Promise<string | undefined> {
    const rows = await this.db().rows<{ holder: string }>('read a lease', 'SELECT holder FROM leases WHERE name = $1 AND expires_at > clock_timestamp()', [name]);
    return rows[0]?.holder;
  }
}
