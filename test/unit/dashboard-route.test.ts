import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { href, parseRoute, safeNext } from '../../dashboard-static/src/logic/route.js';
import { ago, autostopText, duration } from '../../dashboard-static/src/logic/format.js';
import { managedDurations } from '../../dashboard-static/src/logic/managed.js';

describe('dashboard routes', () => {
  it('maps every deep link to its page', () => {
    assert.deepEqual(parseRoute('/dashboard/'), { page: 'clusters' });
    assert.deepEqual(parseRoute('/dashboard'), { page: 'clusters' });
    assert.deepEqual(parseRoute('/dashboard/clusters'), { page: 'clusters' });
    assert.deepEqual(parseRoute('/dashboard/clusters/dev-1.a'), { page: 'cluster', name: 'dev-1.a' });
    assert.deepEqual(parseRoute('/dashboard/jobs/12'), { page: 'job', id: '12' });
    assert.deepEqual(parseRoute('/dashboard/services/web-api'), { page: 'service', name: 'web-api' });
    assert.deepEqual(parseRoute('/dashboard/requests/0mxd3ejyx000d967'), { page: 'request', id: '0mxd3ejyx000d967' });
    for (const p of ['jobs', 'services', 'requests', 'infra', 'users', 'workspaces', 'audit', 'login'] as const) assert.deepEqual(parseRoute(`/dashboard/${p}/`), { page: p });
  });

  it('answers not-found for unknown pages, extra segments and broken escapes', () => {
    assert.equal(parseRoute('/dashboard/nope').page, 'notfound');
    assert.equal(parseRoute('/dashboard/clusters/a/b').page, 'notfound');
    assert.equal(parseRoute('/dashboard/audit/x').page, 'notfound');
    assert.equal(parseRoute('/dashboard/clusters/%E0%A4%A').page, 'notfound');
  });

  it('builds links that parse back to the same page', () => {
    assert.equal(href('clusters', 'a b'), '/dashboard/clusters/a%20b');
    assert.deepEqual(parseRoute(href('clusters', 'a/b')), { page: 'cluster', name: 'a/b' });
    assert.deepEqual(parseRoute(href('jobs', 7)), { page: 'job', id: '7' });
    assert.deepEqual(parseRoute(href('services', 'web')), { page: 'service', name: 'web' });
  });
});

describe('dashboard formats', () => {
  it('shows durations and ages as a person reads them', () => {
    assert.equal(duration(undefined), '-');
    assert.equal(duration(-5), '-');
    assert.equal(duration(12_400), '12s');
    assert.equal(duration(184_000), '3m 4s');
    assert.equal(duration(2 * 3600_000 + 5 * 60_000), '2h 5m');
    assert.equal(duration(50 * 3600_000), '2d 2h');
    assert.equal(ago(undefined, 1000), '-');
    assert.equal(ago(1_000_000 - 5 * 60_000, 1_000_000), '5 min ago');
    assert.equal(autostopText(undefined), '-');
    assert.equal(autostopText({ idleMinutes: 30, down: true }), '30m (down)');
  });

  it('sums a managed job running time over tasks and recoveries, counting the current run', () => {
    const job = { submittedAt: 0, tasks: [{ runningMs: 60_000, startedAt: 10 }, { runningMs: 30_000, runningSince: 500_000, startedAt: 400_000 }] };
    assert.deepEqual(managedDurations(job, 600_000), { total: 600_000, running: 60_000 + 30_000 + 100_000 });
    assert.deepEqual(managedDurations({ submittedAt: 0, endedAt: 1000, tasks: [{ runningMs: 0 }] }, 5000), { total: 1000, running: undefined });
  });
});

describe('dashboard login: where to go next', () => {
  it('returns to the dashboard page that sent the browser to the login page', () => {
    assert.equal(safeNext('/dashboard/clusters/dev?job=2'), '/dashboard/clusters/dev?job=2');
    assert.equal(safeNext('/dashboard/requests'), '/dashboard/requests');
  });

  it('never leaves the dashboard, and never loops back to the login page', () => {
    for (const bad of [null, '', 'https://evil.example/', '//evil.example/dashboard/', '/dashboard//evil.example', '/dashboard\\evil', '/api/v1/users', '/dashboardx', '/dashboard/login', '/dashboard/login?next=/x', '/dashboard/nope', '/dashboard/clusters\n']) {
      assert.equal(safeNext(bad), '/dashboard/clusters', String(bad));
    }
  });
});
