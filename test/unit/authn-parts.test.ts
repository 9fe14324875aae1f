import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalUserName, SkyError } from '@sky/protocol';
import { LoginLimiter } from '../../core/daemon/src/auth/login-limiter.js';
import { ScryptPool } from '../../core/daemon/src/auth/scrypt-pool.js';
import { cookieValue, sessionCookie } from '../../core/daemon/src/auth/cookies.js';
import { ProxyAuth } from '../../core/daemon/src/auth/proxy-auth.js';
import { isLoopbackName } from '../../core/daemon/src/http/origin-check.js';
import { isAddressOrRange } from '../../core/daemon/src/config/schema.js';

const noSleep = async (): Promise<void> => undefined;

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof SkyError ? err.code : String(err);
  }
}

describe('login limiter', () => {
  it('locks a key after max failures in the window; the failure that locks it answers 429; the window lets it go', async () => {
    let now = 1_000_000;
    const limiter = new LoginLimiter({ max: 3, windowMs: 60_000, sleep: noSleep });
    for (let i = 0; i < 2; i++) assert.equal((await limiter.admit('k', () => now)).fail(now), undefined);
    assert.equal((await limiter.admit('k', () => now)).fail(now)?.code, 'TOO_MANY_ATTEMPTS');
    assert.ok(limiter.isLocked('k', now));
    now += 60_001;
    assert.equal(limiter.isLocked('k', now), false);
  });

  it('holds an attempt of a locked key for a delay that doubles per failure (capped), and lets the right credentials in', async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = new LoginLimiter({ max: 2, windowMs: 3_600_000, baseDelayMs: 1_000, maxDelayMs: 8_000, sleep: async (ms) => void waits.push(ms) });
    for (let i = 0; i < 2; i++) (await limiter.admit('k', () => now)).fail(now);
    for (let i = 0; i < 5; i++) {
      const attempt = await limiter.admit('k', () => now);
      now += waits[waits.length - 1] ?? 0;
      attempt.fail(now);
    }
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 8_000, 8_000]);
    const right = await limiter.admit('k', () => now);
    right.succeed();
    assert.equal(limiter.isLocked('k', now), false, 'a success clears the key');
  });

  it('answers 429 at once to a second attempt while a locked key holds one', async () => {
    const now = 0;
    let release: () => void = () => undefined;
    const limiter = new LoginLimiter({ max: 1, windowMs: 60_000, sleep: () => new Promise<void>((r) => (release = r)) });
    (await limiter.admit('k', () => now)).fail(now);
    const held = limiter.admit('k', () => now);
    assert.equal(await code(limiter.admit('k', () => now)), 'TOO_MANY_ATTEMPTS');
    release();
    (await held).abandon();
    const next = limiter.admit('k', () => now);
    release();
    (await next).succeed();
  });

  it('never evicts a locked key to make room: 20,000 sprayed keys leave it locked, and memory stays bounded', async () => {
    const now = 5_000;
    const limiter = new LoginLimiter({ max: 3, windowMs: 60_000, capacity: 1_000, sleep: noSleep });
    for (let i = 0; i < 3; i++) (await limiter.admit('victim', () => now)).fail(now);
    for (let i = 0; i < 20_000; i++) (await limiter.admit(`spray-${i}`, () => now)).fail(now);
    assert.ok(limiter.size <= 1_001, `tracked ${limiter.size} keys`);
    assert.ok(limiter.isLocked('victim', now), 'the locked key survived the spray');
  });

  it('when every tracked key is locked, a new key answers 429 rather than going unlimited', async () => {
    const now = 5_000;
    const limiter = new LoginLimiter({ max: 1, windowMs: 60_000, capacity: 10, sleep: noSleep });
    for (let i = 0; i < 10; i++) (await limiter.admit(`k${i}`, () => now)).fail(now);
    assert.equal(await code(limiter.admit('new', () => now)), 'TOO_MANY_ATTEMPTS');
    assert.equal(await code(limiter.admit('new', () => now + 60_001)), undefined, 'the window frees room again');
  });
});

describe('user names', () => {
  it('are NFKC-normalised, ASCII only, and case-folded', () => {
    assert.equal(canonicalUserName('Alice'), 'alice');
    assert.equal(canonicalUserName('ADMIN'), 'admin');
    assert.equal(canonicalUserName('Ａｄｍｉｎ'), 'admin', 'full-width letters are the same name');
    assert.equal(canonicalUserName('\u0430dmin'), undefined, 'a Cyrillic look-alike is refused, not mapped');
    assert.equal(canonicalUserName('dana@Example.com'), 'dana@example.com');
    for (const bad of ['', ' alice', 'a b', '-lead', 'x'.repeat(65), 'al\u0000ce']) assert.equal(canonicalUserName(bad), undefined, JSON.stringify(bad));
    assert.equal(canonicalUserName('ﬁle'), 'file', 'a compatibility ligature decomposes');
  });
});

describe('scrypt pool', () => {
  it('derives the same key as node:crypto, on its own threads, and refuses past its queue', async () => {
    const { scryptSync } = await import('node:crypto');
    const pool = new ScryptPool(1, 2);
    try {
      const params = { N: 1024, r: 8, p: 1, keylen: 32 };
      const salt = Buffer.from('salty-salt');
      const key = await pool.derive('pw', salt, params);
      assert.deepEqual(key, scryptSync('pw', salt, 32, { N: 1024, r: 8, p: 1 }));
      const heavy = { N: 16384, r: 8, p: 1, keylen: 32 };
      const running = [pool.derive('a', salt, heavy), pool.derive('b', salt, heavy), pool.derive('c', salt, heavy)];
      assert.equal(await code(pool.derive('d', salt, heavy)), 'AUTH_BUSY');
      await Promise.all(running);
    } finally {
      await pool.close();
    }
  });
});

describe('cookies', () => {
  it('reads one cookie among several and writes the session cookie HttpOnly, SameSite=Strict, Path=/', () => {
    assert.equal(cookieValue('a=1; sky_session=sks_x; b=2', 'sky_session'), 'sks_x');
    assert.equal(cookieValue('xsky_session=1', 'sky_session'), undefined);
    assert.equal(cookieValue('', 'sky_session'), undefined);
    assert.equal(sessionCookie('s', 'v', { maxAgeSeconds: 60, secure: false }), 's=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60');
    assert.match(sessionCookie('s', 'v', { maxAgeSeconds: 60, secure: true }), /; Secure$/);
  });
});

describe('proxy settings and loopback names', () => {
  const proxy = { header: 'x-forwarded-user', trusted_addresses: ['10.0.0.0/8', '::1'], secret_header: 'x-sky-proxy-secret', secret: 'a-secret-of-16-chars' };
  const creds = (from: string, headers: Record<string, string>) => ({ remoteAddress: from, header: (name: string) => headers[name] ?? '' });

  it('refuses to run without trusted addresses or without a secret', () => {
    assert.throws(() => ProxyAuth.fromConfig({ ...proxy, trusted_addresses: [] }), /trusted_addresses/);
    assert.throws(() => ProxyAuth.fromConfig({ header: proxy.header, trusted_addresses: ['::1'], secret_header: proxy.secret_header }), /shared secret/);
  });

  it('believes the header only from a trusted address (IPv4-mapped too) with the secret', () => {
    const auth = ProxyAuth.fromConfig(proxy);
    const ok = { 'x-forwarded-user': 'dana', 'x-sky-proxy-secret': proxy.secret };
    assert.deepEqual(auth.check(creds('10.1.2.3', ok)), { kind: 'user', name: 'dana' });
    assert.deepEqual(auth.check(creds('::ffff:10.1.2.3', ok)), { kind: 'user', name: 'dana' });
    assert.deepEqual(auth.check(creds('::1', ok)), { kind: 'user', name: 'dana' });
    assert.equal(auth.check(creds('127.0.0.1', ok)).kind, 'refused');
    assert.equal(auth.check(creds('10.1.2.3', { 'x-forwarded-user': 'dana' })).kind, 'refused');
    assert.equal(auth.check(creds('10.1.2.3', { 'x-forwarded-user': 'dana', 'x-sky-proxy-secret': 'wrong' })).kind, 'refused');
    assert.deepEqual(auth.check(creds('10.1.2.3', {})), { kind: 'absent' });
  });

  it('knows addresses and ranges, and loopback names', () => {
    for (const good of ['10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '::ffff:127.0.0.1']) assert.ok(isAddressOrRange(good), good);
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.1/8/1', '::/129', '']) assert.ok(!isAddressOrRange(bad), bad);
    for (const name of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '[::1]', 'localhost.']) assert.ok(isLoopbackName(name), name);
    for (const name of ['evil.example', '128.0.0.1', 'localhost.evil.example', '0.0.0.0', '[::2]']) assert.ok(!isLoopbackName(name), name);
  });
});
