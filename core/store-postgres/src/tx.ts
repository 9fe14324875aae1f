import type pg from 'pg';
import type { FeedChange, FeedPosition } from '@sky/plugin-api';

/** One committed change with where it sits in the feed. */
export interface PositionedChange {
  change: FeedChange;
  position: FeedPosition;
}

/**
 * One write's view of the transaction it runs in: the connection, and the feed changes this
 * write will commit (kept apart from the other writes of the same commit, so that a write
 * rolled back alone takes only its own changes with it).
 */
export class Tx {
  readonly changes: FeedChange[] = [];

  constructor(readonly client: pg.PoolClient) {}

  async rows<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.client.query<R>(text, values)).rows;
  }

  async one<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R | undefined> {
    return (await this.client.query<R>(text, values)).rows[0];
  }

  emit(change: FeedChange): void {
    this.changes.push(change);
  }
}
