import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { makeCluster, makeJob, makeRequest } from '@sky/plugin-api/testing';
import type { StoredEvent } from '@sky/plugin-api';
import { DaemonConfigSchema } from '../../core/daemon/src/config/schema.js';
import { isSpecialAddress, parseAllowEntry, WebhookAllowList } from '../../core/daemon/src/webhooks/allow-list.js';
import { backoffDelay, retryable } from '../../core/daemon/src/webhooks/backoff.js';
import { vetAddress, type Resolver } from '../../core/daemon/src/webhooks/sender.js';
import { newWebhookSecret, signBody, verifySignature } from '../../core/daemon/src/webhooks/signing.js';
import { eventStatus, ownerlessRequest, wants, workspaceEvent, type WebhookViewDeps } from '../../core/daemon/src/webhooks/webhook-view.js';

describe('webhook signatures', () => {
  it('is sha256= and the hex HMAC-SHA256 of the exact body with the secret', () => {
    const body = '{"seq":1,"kind":"job"}';
    const expected = createHmac('sha256', 'k3y-of-sixteen-chars').update(body).digest('hex');
    assert.equal(signBody('k3y-of-sixteen-chars', body), `sha256=${expected}`);
    assert.match(signBody('s', ''), /^sha256=[0-9a-f]{64}$/);
  });

  it('verifies only the same body with the same secret', () => {
    const body = '{"a":1}';
    const header = signBody('secret-one-xxxxxxx', body);
    assert.equal(verifySignature('secret-one-xxxxxxx', body, header), true);
    assert.equal(verifySignature('secret-two-xxxxxxx', body, header), false);
    assert.equal(verifySignature('secret-one-xxxxxxx', '{"a":2}', header), false);
    assert.equal(verifySignature('secret-one-xxxxxxx', body, undefined), false);
    assert.equal(verifySignature('secret-one-xxxxxxx', body, header.slice(0, -1)), false);
  });

  it('generates distinct secrets of 32 random bytes', () => {
    const a = newWebhookSecret();
    assert.match(a, /^whsec_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, newWebhookSecret());
  });
});

describe('webhook retries', () => {
  const policy = { maxAttempts: 5, baseMs: 100, maxMs: 500 };
  it('doubles the wait after each failed attempt, up to the cap, and stops at the last attempt', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n)), [100, 200, 400, 500, undefined]);
    assert.equal(backoffDelay({ maxAttempts: 1, baseMs: 100, maxMs: 500 }, 1), undefined);
    assert.equal(backoffDelay({ maxAttempts: 100, baseMs: 1000, maxMs: 60_000 }, 80), 60_000);
  });

  it('retries no answer, 5xx, 408 and 429; not 2xx, 3xx or other 4xx', () => {
    assert.deepEqual(
      [undefined, 500, 502, 503, 408, 429, 200, 204, 301, 302, 400, 401, 404, 410].map((s) => retryable(s)),
      [true, true, true, true, true, true, false, false, false, false, false, false, false, false],
    );
  });
});

describe('webhooks.allow', () => {
  it('parses prefixes, hosts with ports, IPv6 and CIDR ranges, and refuses nonsense', () => {
    assert.equal(parseAllowEntry('https://hooks.example.com/sky/').kind, 'prefix');
    assert.deepEqual(parseAllowEntry('Hooks.Example.com:8443'), { kind: 'host', host: 'hooks.example.com', port: 8443, text: 'Hooks.Example.com:8443' });
    assert.deepEqual(parseAllowEntry('[::1]:9000'), { kind: 'host', host: '::1', port: 9000, text: '[::1]:9000' });
    assert.deepEqual(parseAllowEntry('::1'), { kind: 'host', host: '::1', text: '::1' });
    assert.equal(parseAllowEntry('10.0.0.0/8').kind, 'range');
    assert.equal(parseAllowEntry('fd00::/8').kind, 'range');
    for (const bad of ['', '10.0.0.0/33', 'host:99999', 'host:abc', 'a b', '::1/129', '300.1.1.1/8', 'http://u:p@x.com/']) {
      assert.throws(() => parseAllowEntry(bad), Error, bad);
    }
    assert.throws(() => DaemonConfigSchema.parse({ webhooks: { allow: ['10.0.0.0/99'] } }));
    assert.deepEqual(DaemonConfigSchema.parse({}).webhooks.allow, []);
  });

  const allow = new WebhookAllowList(['https://hooks.example.com/sky/', 'ci.example.org:8443', '127.0.0.1:9000', '[::1]:9001', '10.1.0.0/16', 'fd00:1::/32', 'https://exact.example.net/hook']);
  const table: [string, boolean][] = [
    ['https://hooks.example.com/sky/build', true],
    ['https://hooks.example.com/sky/', true],
    ['https://hooks.example.com/skyline', false],
    ['https://hooks.example.com/other', false],
    ['http://hooks.example.com/sky/x', false],
    ['https://hooks.example.com.evil.io/sky/x', false],
    ['https://hooks.example.com:444/sky/x', false],
    ['https://user:pw@hooks.example.com/sky/x', false],
    ['https://exact.example.net/hook', true],
    ['https://exact.example.net/hook/sub', true],
    ['https://exact.example.net/hooks', false],
    ['https://CI.example.org:8443/x', true],
    ['https://ci.example.org/x', false],
    ['http://127.0.0.1:9000/x', true],
    ['http://127.0.0.1:9001/x', false],
    // The URL parser turns decimal, hex and short forms into dotted IPv4: 2130706433 is 127.0.0.1.
    ['http://2130706433:9000/x', true],
    ['http://0x7f000001:9000/x', true],
    ['http://127.1:9000/x', true],
    ['http://2130706434:9000/x', false],
    ['http://[::1]:9001/x', true],
    ['http://[0:0:0:0:0:0:0:1]:9001/x', true],
    ['http://[::1]:9000/x', false],
    ['http://10.1.2.3/x', true],
    ['http://10.2.0.1/x', false],
    ['http://[fd00:1::5]/x', true],
    ['http://[fd00:2::5]/x', false],
    ['ftp://hooks.example.com/sky/x', false],
    ['not a url', false],
  ];
  // Names resolve to a public address here: what decides is the entry.
  const publicDns: Resolver = async () => ['93.184.216.34'];
  for (const [url, expected] of table) {
    it(`${expected ? 'admits' : 'refuses'} ${url}`, async () => {
      const vetted = await vetAddress(url, { allow, resolve: publicDns });
      assert.equal('address' in vetted, expected, JSON.stringify(vetted));
    });
  }

  it('treats loopback, private, link-local (metadata) and mapped addresses as special', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '0.0.0.0', '::1', '::', 'fe80::1', 'fd12::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '100.64.0.1']) {
      assert.equal(isSpecialAddress(a), true, a);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) assert.equal(isSpecialAddress(a), false, a);
  });

  it('checks what a host resolves to: no rebinding to loopback or metadata unless an address entry names it', async () => {
    const dns: Record<string, string[]> = {
      'hooks.example.com': ['93.184.216.34'],
      'rebind.example.com': ['93.184.216.34', '127.0.0.1'],
      '127.0.0.1.nip.io': ['127.0.0.1'],
      'metadata.example.com': ['169.254.169.254'],
      'mapped.example.com': ['::ffff:127.0.0.1'],
      'inside.example.com': ['10.1.4.4'],
    };
    const resolve: Resolver = async (host) => dns[host] ?? [];
    const list = new WebhookAllowList(['hooks.example.com', 'rebind.example.com', '127.0.0.1.nip.io', 'metadata.example.com', 'mapped.example.com', '10.1.0.0/16', '127.0.0.1:9000']);
    const vet = (url: string): Promise<{ address: string } | { refused: string }> => vetAddress(url, { allow: list, resolve });
    assert.deepEqual(await vet('https://hooks.example.com/x'), { address: '93.184.216.34' });
    assert.ok('refused' in (await vet('https://rebind.example.com/x')), 'one loopback answer among others is refused');
    assert.ok('refused' in (await vet('http://127.0.0.1.nip.io/x')), 'a name for loopback is refused');
    assert.ok('refused' in (await vet('http://metadata.example.com/x')), 'a name for the metadata address is refused');
    assert.ok('refused' in (await vet('http://mapped.example.com/x')), 'an IPv4-mapped loopback is refused');
    assert.deepEqual(await vet('http://inside.example.com/x'), { address: '10.1.4.4' }, 'a range admits names resolving into it');
    assert.deepEqual(await vet('http://127.0.0.1:9000/x'), { address: '127.0.0.1' }, 'an address entry names loopback explicitly');
    assert.ok('refused' in (await vet('http://unknown.example.com/x')));
    assert.ok('refused' in (await vet('http://[::1]:9000/x')));
    // Loopback named through a range entry is allowed for names resolving to it.
    const withLoopback = new WebhookAllowList(['127.0.0.1.nip.io', '127.0.0.0/8']);
    assert.deepEqual(await vetAddress('http://127.0.0.1.nip.io/x', { allow: withLoopback, resolve }), { address: '127.0.0.1' });
  });
});

describe("a workspace's owner-less view of the feed", () => {
  const deps: WebhookViewDeps = {
    clusterOwner: (name) => (name === 'c-team' ? { owner: 'u-a', workspace: 'team' } : name === 'c-other' ? { owner: 'u-b', workspace: 'other' } : undefined),
    serviceOwner: () => undefined,
    showRequest: ownerlessRequest,
  };
  // Fixture records stand in for stored ones (the view reads only the fields they have).
  const event = (change: unknown, seq = 1): StoredEvent => ({ seq, at: 1000, change: change as StoredEvent['change'] });

  it('shows only the workspace\'s things, without command lines or request bodies', () => {
    const cluster = { ...makeCluster({ name: 'c-team', workspace: 'team', owner: 'u-a', lastCommand: 'echo SECRET' }), version: 1 };
    const shown = workspaceEvent(deps, 'team', event({ kind: 'cluster', name: 'c-team', record: cluster }));
    assert.equal(shown?.key, 'c-team');
    assert.equal((shown?.record as { lastCommand?: string }).lastCommand, undefined);
    assert.equal(workspaceEvent(deps, 'other', event({ kind: 'cluster', name: 'c-team', record: cluster })), undefined);

    const job = { ...makeJob({ name: 'c-team', clusterId: 'id-team' }, { command: 'echo SECRET', status: 'RUNNING' }), id: 3 };
    const jobShown = workspaceEvent(deps, 'team', event({ kind: 'job', cluster: 'c-team', id: 3, record: job }));
    assert.equal(jobShown?.key, 'c-team/3');
    assert.doesNotMatch(JSON.stringify(jobShown), /SECRET/);
    assert.equal(workspaceEvent(deps, 'team', event({ kind: 'job', cluster: 'c-other', id: 1, record: { ...makeJob({ name: 'c-other', clusterId: 'id-other' }), id: 1 } })), undefined);

    const request = makeRequest({ workspace: 'team', body: { secret: 'SECRET' } });
    const reqShown = workspaceEvent(deps, 'team', event({ kind: 'request', id: request.id, record: request }));
    assert.equal((reqShown?.record as { body: unknown }).body, null);
    assert.doesNotMatch(JSON.stringify(reqShown), /SECRET/);
    assert.equal(workspaceEvent(deps, 'other', event({ kind: 'request', id: request.id, record: request })), undefined);
  });

  it('filters by kind and status (DELETED for a deletion)', () => {
    const running = { seq: 1, at: 1, kind: 'job' as const, key: 'c/1', record: { status: 'RUNNING' } };
    const gone = { seq: 2, at: 1, kind: 'cluster' as const, key: 'c', record: null };
    assert.equal(eventStatus(gone), 'DELETED');
    assert.equal(wants({}, running), true);
    assert.equal(wants({ kinds: ['cluster'] }, running), false);
    assert.equal(wants({ kinds: ['job'], statuses: ['SUCCEEDED'] }, running), false);
    assert.equal(wants({ statuses: ['RUNNING'] }, running), true);
    assert.equal(wants({ statuses: ['DELETED'] }, gone), true);
  });
});
