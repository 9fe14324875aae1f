import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SkyError } from '@sky/protocol';
import { DaemonConfigSchema } from '../../core/daemon/src/config/schema.js';
import { PortRange } from '../../core/daemon/src/serve/port-range.js';

describe('PortRange', () => {
  it('reads a range or a single port', () => {
    const range = new PortRange('30001-30100');
    assert.equal(range.first, 30001);
    assert.equal(range.last, 30100);
    assert.equal(range.size, 100);
    assert.equal(range.toString(), '30001-30100');
    const one = new PortRange(' 8080 ');
    assert.deepEqual([one.first, one.last, one.size, one.toString()], [8080, 8080, 1, '8080']);
  });

  const bad: Array<[spec: string, message: RegExp]> = [
    ['', /is not a port range/],
    ['abc', /is not a port range/],
    ['30001-', /is not a port range/],
    ['-30001', /is not a port range/],
    ['30001 - 30100', /is not a port range/],
    ['30001,30005', /is not a port range/],
    ['1.5-3', /is not a port range/],
    ['123456', /is not a port range/],
    ['0-10', /0 is not a TCP port/],
    ['30001-65536', /65536 is not a TCP port/],
    ['30100-30001', /ends \(30001\) before it starts \(30100\)/],
  ];
  for (const [spec, message] of bad) {
    it(`refuses ${JSON.stringify(spec)} with CONFIG_INVALID and a hint`, () => {
      assert.throws(
        () => new PortRange(spec),
        (err: unknown) => err instanceof SkyError && err.code === 'CONFIG_INVALID' && message.test(err.message) && (err.hint ?? '').length > 0,
      );
    });
  }

  it('picks the lowest free port and says when none is left', () => {
    const range = new PortRange('40000-40002');
    assert.equal(range.pick(new Set()), 40000);
    assert.equal(range.pick(new Set([40000, 40002, 12])), 40001);
    assert.throws(
      () => range.pick(new Set([40000, 40001, 40002])),
      (err: unknown) => err instanceof SkyError && err.code === 'PORT_IN_USE' && /40000-40002/.test(err.message) && /serve\.ports/.test(err.hint ?? ''),
    );
  });
});

describe('serve config', () => {
  it('defaults the range and the host to the daemon listen host', () => {
    const defaults = { probe_interval_seconds: 5, not_ready_grace_seconds: 60, qps_window_seconds: 60, launch_parallelism: 16 };
    assert.deepEqual(DaemonConfigSchema.parse({}).serve, { ports: '30001-30100', host: '127.0.0.1', ...defaults });
    assert.deepEqual(DaemonConfigSchema.parse({ listen: { host: '0.0.0.0' } }).serve.host, '0.0.0.0');
    assert.deepEqual(DaemonConfigSchema.parse({ listen: { host: '0.0.0.0' }, serve: { host: '10.1.2.3', ports: '9000-9009' } }).serve, { ports: '9000-9009', host: '10.1.2.3', ...defaults });
  });

  it('refuses a bad range and unknown keys', () => {
    const bad = DaemonConfigSchema.safeParse({ serve: { ports: '9009-9000' } });
    assert.equal(bad.success, false);
    assert.match(bad.error?.issues[0]?.message ?? '', /ends \(9000\) before it starts/);
    assert.equal(DaemonConfigSchema.safeParse({ serve: { port: 9000 } }).success, false);
  });
});
