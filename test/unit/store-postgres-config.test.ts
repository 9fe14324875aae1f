import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DaemonConfigSchema, withDatabaseUrlFromEnv } from '../../core/daemon/src/config/schema.js';

/** Parse a store block as the daemon would, with SKY_DB_URL unset (the environment is read by the schema). */
function parseStore(store: unknown): ReturnType<typeof DaemonConfigSchema.safeParse> {
  const saved = process.env.SKY_DB_URL;
  delete process.env.SKY_DB_URL;
  try {
    return DaemonConfigSchema.safeParse(store === undefined ? {} : { store });
  } finally {
    if (saved !== undefined) process.env.SKY_DB_URL = saved;
  }
}

function issuesOf(result: ReturnType<typeof DaemonConfigSchema.safeParse>): string[] {
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('daemon config: the store block', () => {
  it('defaults to LevelDB with no postgres keys', () => {
    const result = parseStore(undefined);
    assert.ok(result.success);
    assert.deepEqual(result.data.store, { kind: 'level', sync: false });
  });

  it('takes a postgres block with url, schema and pool_max', () => {
    const result = parseStore({ kind: 'postgres', url: 'postgres://sky:pw@db:5432/sky', schema: 'sky_prod', pool_max: 20 });
    assert.ok(result.success, issuesOf(result).join('; '));
    assert.deepEqual(result.data.store, { kind: 'postgres', url: 'postgres://sky:pw@db:5432/sky', schema: 'sky_prod', pool_max: 20, sync: false });
  });

  const refused: Array<[string, unknown, RegExp]> = [
    ['postgres without a url', { kind: 'postgres' }, /^store\.url: is required with kind postgres \(or set SKY_DB_URL\)/],
    ['a url of another scheme', { kind: 'postgres', url: 'mysql://u:hunter2@h/d' }, /^store\.url: .*scheme is "mysql"/],
    ['a url without a database', { kind: 'postgres', url: 'postgres://u:hunter2@h' }, /^store\.url: .*names no database/],
    ['a schema name that needs quoting', { kind: 'postgres', url: 'postgres://h/d', schema: 'Sky-Prod' }, /^store\.schema: must be lower-case/],
    ['pool_max 0', { kind: 'postgres', url: 'postgres://h/d', pool_max: 0 }, /^store\.pool_max: /],
    ['a path with postgres', { kind: 'postgres', url: 'postgres://h/d', path: '/x' }, /^store\.path: is for kind level only/],
    ['a url with level', { kind: 'level', url: 'postgres://h/d' }, /^store\.url: is for kind postgres only \(kind is level\)/],
    ['an unknown kind', { kind: 'mysql' }, /^store\.kind: /],
    ['an unknown key', { kind: 'postgres', url: 'postgres://h/d', pool_size: 3 }, /^store: /],
  ];
  for (const [what, store, expected] of refused) {
    it(`refuses ${what}, naming the key${'url' in (store as object) ? ', never the password' : ''}`, () => {
      const issues = issuesOf(parseStore(store));
      assert.ok(issues.some((i) => expected.test(i)), issues.join('; '));
      for (const issue of issues) assert.ok(!issue.includes('hunter2'), issue);
    });
  }
});

describe('daemon config: SKY_DB_URL', () => {
  const url = 'postgres://sky:pw@db/sky';
  const table: Array<[string, unknown, unknown]> = [
    ['no store block: postgres at that url', undefined, { kind: 'postgres', url }],
    ['a block without kind: postgres, the block kept', { schema: 's' }, { schema: 's', kind: 'postgres', url }],
    ['kind postgres without url: the url', { kind: 'postgres', pool_max: 3 }, { kind: 'postgres', pool_max: 3, url }],
    ['kind postgres with its own url: the block wins', { kind: 'postgres', url: 'postgres://other/db' }, { kind: 'postgres', url: 'postgres://other/db' }],
    ['kind level: the block wins', { kind: 'level' }, { kind: 'level' }],
    ['kind memory: the block wins', { kind: 'memory' }, { kind: 'memory' }],
  ];
  for (const [what, block, expected] of table) {
    it(what, () => {
      assert.deepEqual(withDatabaseUrlFromEnv(block, { SKY_DB_URL: url }), expected);
    });
  }

  it('changes nothing when unset or empty', () => {
    assert.equal(withDatabaseUrlFromEnv(undefined, {}), undefined);
    assert.deepEqual(withDatabaseUrlFromEnv({ kind: 'level' }, { SKY_DB_URL: '' }), { kind: 'level' });
  });

  it('is applied when the daemon config is parsed', () => {
    const saved = process.env.SKY_DB_URL;
    process.env.SKY_DB_URL = url;
    try {
      const parsed = DaemonConfigSchema.parse({});
      assert.equal(parsed.store.kind, 'postgres');
      assert.equal(parsed.store.url, url);
    } finally {
      if (saved === undefined) delete process.env.SKY_DB_URL;
      else process.env.SKY_DB_URL = saved;
    }
  });
});
