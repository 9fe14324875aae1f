import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { webhookBody } from '../../cli/src/commands/workspace-webhooks.js';
import { deliveryTable, webhookTable } from '../../cli/src/webhook-format.js';
import { UsageError } from '../../cli/src/usage.js';

describe('sky workspace webhook-add: the body', () => {
  it('passes kinds, upper-cased statuses and the secret through; leaves out what is not given', () => {
    assert.deepEqual(webhookBody('https://ci.example.com/sky', {}), { url: 'https://ci.example.com/sky' });
    assert.deepEqual(webhookBody('https://ci.example.com/sky', { eventKind: ['job', 'service'], onStatus: ['succeeded', 'FAILED'], signingSecret: 'a-long-enough-secret' }), {
      url: 'https://ci.example.com/sky',
      kinds: ['job', 'service'],
      statuses: ['SUCCEEDED', 'FAILED'],
      secret: 'a-long-enough-secret',
    });
  });

  it('refuses a kind that is not one, naming the kinds there are', () => {
    assert.throws(
      () => webhookBody('https://x.example/h', { eventKind: ['jobs'] }),
      (err: unknown) => err instanceof UsageError && /--kind jobs: not a kind of change; one of cluster, .*service/.test(err.message),
    );
  });
});

describe('webhook tables', () => {
  it('lists webhooks with all for absent filters, and deliveries with their outcome', () => {
    const lines = webhookTable([{ id: 'wh-0123abcd', workspace: 'lab', url: 'https://ci.example.com/sky', createdAt: Date.UTC(2026, 11, 7, 12), createdByName: 'admin', cursor: 42 }]);
    assert.match(lines[0]!, /^ID\s+URL\s+KINDS\s+STATUSES\s+CREATED\s+BY\s+CURSOR$/);
    assert.match(lines[1]!, /^wh-0123abcd\s+https:\/\/ci\.example\.com\/sky\s+all\s+all\s+2026-12-07T12:00:00Z\s+admin\s+#42$/);
    assert.deepEqual(webhookTable([]), ['No webhooks.']);
    const log = deliveryTable([
      { id: 'wh-0123abcd-7', seq: 7, kind: 'job', key: 'c/1', url: 'https://ci.example.com/sky', at: Date.UTC(2026, 11, 7, 12, 0, 5), attempts: 1, ok: true, status: 200 },
      { id: 'wh-0123abcd-6', seq: 6, kind: 'cluster', key: 'c', url: 'https://ci.example.com/sky', at: Date.UTC(2026, 11, 7, 12), attempts: 6, ok: false, error: 'ECONNREFUSED' },
    ]);
    assert.match(log[1]!, /#7\s+job\s+c\/1\s+OK 200\s+1\s+-$/);
    assert.match(log[2]!, /#6\s+cluster\s+c\s+FAILED\s+6\s+ECONNREFUSED$/);
  });
});
