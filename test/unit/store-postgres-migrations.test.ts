import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIGRATIONS, planMigrations, type Migration } from '@sky/store-postgres';

const step = (version: number): Migration => ({ version, name: `step ${version}`, statements: [`SELECT ${version}`] });

describe('PostgreSQL store: migration ordering', () => {
  it('ships a ladder numbered from 1 without gaps', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1),
    );
  });

  it('applies every step above the current version, in order, whatever order they are given in', () => {
    const plan = planMigrations(1, [step(3), step(1), step(2)]);
    assert.equal(plan.kind, 'apply');
    assert.deepEqual(plan.kind === 'apply' ? plan.pending.map((m) => m.version) : [], [2, 3]);
  });

  it('applies everything to a new schema and nothing to a current one', () => {
    const ladder = [step(1), step(2)];
    const fresh = planMigrations(0, ladder);
    const current = planMigrations(2, ladder);
    assert.deepEqual(fresh.kind === 'apply' ? fresh.pending.map((m) => m.version) : undefined, [1, 2]);
    assert.deepEqual(current.kind === 'apply' ? current.pending : undefined, []);
  });

  it('refuses a schema newer than the ladder (an old replica must not write it)', () => {
    assert.deepEqual(planMigrations(3, [step(1), step(2)]), { kind: 'too-new', found: 3, known: 2 });
  });

  it('refuses a ladder with a gap or a repeat', () => {
    assert.throws(() => planMigrations(0, [step(1), step(3)]), /expected version 2, found 3/);
    assert.throws(() => planMigrations(0, [step(1), step(1)]), /expected version 2, found 1/);
  });
});
