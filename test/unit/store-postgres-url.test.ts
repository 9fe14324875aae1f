import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SkyError } from '@sky/protocol';
import { checkSchemaName, parseDatabaseUrl, redactUrl } from '@sky/store-postgres';

describe('PostgreSQL URL redaction', () => {
  const table: Array<[string, string]> = [
    ['postgres://sky:s3cret@db:5432/sky', 'postgres://sky:***@db:5432/sky'],
    ['postgresql://sky:p%40ss%3Aword@db/sky', 'postgresql://sky:***@db/sky'],
    ['postgres://sky@db/sky', 'postgres://sky@db/sky'],
    ['postgres://db/sky?password=hunter2&sslmode=require', 'postgres://db/sky?password=***&sslmode=require'],
    ['postgres://sky:hunter2@[::1]:5432/sky', 'postgres://sky:***@[::1]:5432/sky'],
    ['not a url sky:hunter2@db', 'not a url sky:***@db'],
    ['u:secret@h/d', 'u:***@h/d'],
    ['postgres://sky:p@ss@db/sky', 'postgres://sky:***@db/sky'],
    ['postgres://sky:hunt er2@db /sky', 'postgres://sky:***@db /sky'],
  ];
  for (const [url, expected] of table) {
    it(`shows ${JSON.stringify(url)} as ${JSON.stringify(expected)}`, () => {
      const shown = redactUrl(url);
      assert.equal(shown, expected);
    });
  }

  it('never shows the password, encoded or not', () => {
    for (const password of ['hunter2', 'p@ss', 'a:b', 'ünï', 'x y']) {
      for (const written of [password, encodeURIComponent(password)]) {
        const shown = redactUrl(`postgres://sky:${written}@db/sky`);
        assert.equal(shown, 'postgres://sky:***@db/sky');
      }
    }
  });
});

describe('PostgreSQL URL checks', () => {
  it('accepts postgres and postgresql URLs, with the default port', () => {
    assert.deepEqual(parseDatabaseUrl('postgres://root@127.0.0.1/test'), { url: 'postgres://root@127.0.0.1/test', host: '127.0.0.1', port: 5432, database: 'test', user: 'root' });
    assert.equal(parseDatabaseUrl('postgresql://u:p@h:6543/d').port, 6543);
  });

  const bad: Array<[string, RegExp]> = [
    ['mysql://u:secret@h/d', /scheme is "mysql"/],
    ['postgres://u:secret@h', /names no database/],
    ['postgres://u:secret@h/', /names no database/],
    ['u:secret@h/d', /does not parse|scheme/],
    ['postgres://u:secret@h:99999/d', /does not parse|out of range/],
  ];
  for (const [url, why] of bad) {
    it(`refuses ${url.replace('secret', '***')} with a reason and without the password`, () => {
      assert.throws(
        () => parseDatabaseUrl(url),
        (err: unknown) => {
          assert.ok(err instanceof SkyError);
          assert.equal(err.code, 'VALIDATION_FAILED');
          assert.match(err.message, why);
          assert.ok(!err.message.includes('secret'), err.message);
          assert.ok(err.hint !== undefined && err.hint.length > 0);
          return true;
        },
      );
    });
  }

  it('accepts plain lower-case schema names only', () => {
    for (const ok of ['sky', 'sky_t_12_ab09', '_x']) assert.equal(checkSchemaName(ok), ok);
    for (const no of ['Sky', '1sky', 'sky-prod', 'a"b', '', 'x'.repeat(64)]) assert.throws(() => checkSchemaName(no), /not accepted/);
  });
});
