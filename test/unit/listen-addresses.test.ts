import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import pino from 'pino';
import { budgetKey, normalizeAddress, TrustedProxies } from '../../core/daemon/src/listen/addresses.js';
import { RefusalLog } from '../../core/daemon/src/listen/connection-guard.js';
import { DaemonConfigSchema } from '../../core/daemon/src/config/schema.js';

describe('client addresses', () => {
  it('reduces IPv4-mapped IPv6 to IPv4', () => {
    assert.equal(normalizeAddress('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeAddress('::FFFF:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeAddress(undefined), 'unknown');
  });

  it('keeps a budget per IPv4 address and per IPv6 /64', () => {
    assert.equal(budgetKey('10.1.2.3'), '10.1.2.3');
    assert.equal(budgetKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(budgetKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(budgetKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(budgetKey('2001:0db8:0001:0002::9'), '2001:db8:1:2::/64');
    assert.notEqual(budgetKey('2001:db8:1:3::1'), budgetKey('2001:db8:1:2::1'));
    assert.equal(budgetKey('::1'), '0:0:0:0::/64');
    assert.equal(budgetKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  });
});

describe('X-Forwarded-For from trusted proxies', () => {
  const proxies = new TrustedProxies(['10.0.0.5', '192.168.0.0/24', 'fd00::/8']);

  it('is ignored unless the peer is a trusted proxy', () => {
    assert.equal(proxies.clientOf('10.0.0.9', '1.2.3.4'), '10.0.0.9');
    assert.equal(new TrustedProxies([]).clientOf('10.0.0.5', '1.2.3.4'), '10.0.0.5');
  });

  it('names the right-most hop that is not a trusted proxy (what the client wrote further left proves nothing)', () => {
    assert.equal(proxies.clientOf('10.0.0.5', '1.2.3.4'), '1.2.3.4');
    assert.equal(proxies.clientOf('::ffff:10.0.0.5', 'spoofed, 6.6.6.6, 1.2.3.4'), '1.2.3.4');
    assert.equal(proxies.clientOf('10.0.0.5', ['9.9.9.9', '1.2.3.4, 192.168.0.7']), '1.2.3.4');
    assert.equal(proxies.clientOf('fd00::1', '2001:db8::7'), '2001:db8::7');
  });

  it('strips ports, and stops at a malformed hop (the proxy is then the client)', () => {
    assert.equal(proxies.clientOf('10.0.0.5', '1.2.3.4:5555'), '1.2.3.4');
    assert.equal(proxies.clientOf('10.0.0.5', '[2001:db8::7]:443'), '2001:db8::7');
    assert.equal(proxies.clientOf('10.0.0.5', 'not-an-address'), '10.0.0.5');
    assert.equal(proxies.clientOf('10.0.0.5', '1.2.3.4, garbage'), '10.0.0.5');
    assert.equal(proxies.clientOf('10.0.0.5', ''), '10.0.0.5');
  });

  it('falls back to the left-most hop when every hop is a trusted proxy', () => {
    assert.equal(proxies.clientOf('10.0.0.5', '192.168.0.1, 192.168.0.2'), '192.168.0.1');
  });

  it('accepts addresses and CIDR blocks in listen.trusted_proxies and names a bad entry', () => {
    assert.ok(DaemonConfigSchema.safeParse({ listen: { trusted_proxies: ['10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8'] } }).success);
    for (const bad of ['10.0.0.0/33', 'proxy.example.com', '10.0.0.1/8/1', '::1/129']) {
      const result = DaemonConfigSchema.safeParse({ listen: { trusted_proxies: [bad] } });
      assert.equal(result.success, false, bad);
      assert.match(result.error?.issues[0]?.message ?? '', /IP address or a CIDR block/);
    }
  });
});

describe('refused connections in the log', () => {
  it('logs the first refusal at once, then one summary per window, however many there are', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const log = new RefusalLog(logger, 100);
    for (let i = 0; i < 5000; i++) log.note('per_address', `10.0.0.${i % 3}`);
    log.note('total', undefined);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.refused, 1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    log.stop();
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.refused, 5000);
    assert.equal(lines[1]?.overTotalCap, 1);
    assert.equal(lines[1]?.refusedSinceStart, 5001);
    assert.deepEqual(Object.keys(lines[1]?.addresses as object).sort(), ['10.0.0.0', '10.0.0.1', '10.0.0.2']);
  });
});
