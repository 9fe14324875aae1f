import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { GroupCommit, type GroupCommitHooks } from '../../core/store-postgres/src/group-commit.js';
import type { Tx } from '../../core/store-postgres/src/tx.js';
import { adminQuery, dropSchema, testDatabaseUrl, testSchemaName } from './store-postgres-fixture.js';

/** Group commit against the real server, where only a transaction's failure modes can be staged. */
describe('PostgreSQL store: group commit when a transaction fails', () => {
  const schema = testSchemaName();
  let pool: pg.Pool;
  const failures: string[] = [];

  function groupCommit(): GroupCommit {
    const hooks: GroupCommitHooks = {
      connect: () => pool.connect(),
      channel: `sky_feed_${schema}`,
      deliver: () => {},
      failure: (action, err) => {
        failures.push(action);
        return err instanceof Error ? err : new Error(String(err));
      },
      succeeded: () => {},
    };
    return new GroupCommit(hooks);
  }

  const bump = (id: number) => (tx: Tx) => tx.rows(`UPDATE "${schema}".t SET v = v + 1 WHERE id = $1`, [id]);
  const values = async (): Promise<number[]> => (await adminQuery<{ v: number }>(`SELECT v FROM "${schema}".t ORDER BY id`)).map((r) => r.v);

  before(async () => {
    await adminQuery(`CREATE SCHEMA "${schema}"`);
    await adminQuery(`CREATE TABLE "${schema}".t (id int PRIMARY KEY, v int NOT NULL)`);
    pool = new pg.Pool({ connectionString: await testDatabaseUrl(), max: 4 });
    pool.on('error', () => {});
  });

  after(async () => {
    await pool.end();
    await dropSchema(schema);
  });

  it('runs a write that lost a deadlock to another transaction again, after the writes before it committed', async () => {
    await adminQuery(`INSERT INTO "${schema}".t (id, v) VALUES (1, 0), (2, 0)`);
    const one = groupCommit();
    const two = groupCommit();
    const runs = { one: 0, two: 0 };
    // Each takes one row, waits until the other has taken the other row, then wants it.
    const crossing = (first: number, second: number, who: 'one' | 'two') => [
      bump(first),
      async (tx: Tx) => {
        runs[who] += 1;
        if (runs[who] === 1) await tx.rows('SELECT pg_sleep(0.3)');
        return bump(second)(tx);
      },
    ];
    const [a1, a2] = crossing(1, 2, 'one');
    const [b1, b2] = crossing(2, 1, 'two');
    const results = await Promise.allSettled([
      one.enqueue('a1', a1!, { feed: false }),
      one.enqueue('a2', a2!, { feed: false }),
      two.enqueue('b1', b1!, { feed: false }),
      two.enqueue('b2', b2!, { feed: false }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    assert.equal(runs.one + runs.two, 3, 'the deadlock victim ran twice, the other once');
    assert.deepEqual(await values(), [2, 2]);
  });

  it('fails every write of a transaction whose connection is lost, and commits none of them', async () => {
    await adminQuery(`DELETE FROM "${schema}".t`);
    await adminQuery(`INSERT INTO "${schema}".t (id, v) VALUES (1, 0), (2, 0)`);
    const writes = groupCommit();
    failures.length = 0;
    const results = await Promise.allSettled([
      writes.enqueue('before', bump(1), { feed: false }),
      writes.enqueue('cut', (tx) => tx.rows('SELECT pg_terminate_backend(pg_backend_pid())'), { feed: false }),
      writes.enqueue('after', bump(2), { feed: false }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    assert.deepEqual(failures, ['before', 'cut', 'after']);
    assert.deepEqual(await values(), [0, 0]);
    // The next write gets a new connection.
    await writes.enqueue('again', bump(2), { feed: false });
    assert.deepEqual(await values(), [0, 1]);
  });

  it('runs a write asked to run alone in a transaction of its own', async () => {
    const sizes: number[] = [];
    const hooks: GroupCommitHooks = { connect: () => pool.connect(), channel: `sky_feed_${schema}`, deliver: () => {}, failure: (_a, err) => err as Error, succeeded: () => {}, onCommit: (n) => sizes.push(n) };
    const writes = new GroupCommit(hooks);
    await Promise.all([
      writes.enqueue('x', bump(1), { feed: false }),
      writes.enqueue('y', bump(1), { feed: false }),
      writes.enqueue('lone', bump(2), { feed: false, alone: true }),
      writes.enqueue('z', bump(1), { feed: false }),
    ]);
    assert.deepEqual(sizes, [2, 1, 1]);
  });
});
