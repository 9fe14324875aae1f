import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { asAdmin, asUser, errorOf, startTeamDaemon } from '../helpers/team.js';
import { parseExposition } from '../helpers/prometheus-text.js';

// Who may read GET /metrics on a team daemon: admins, and a scraper with the metrics token of
// the daemon config (which opens that route and nothing else). A plain user is refused and
// audited; an outsider and a wrong token get 401.

const SCRAPE_TOKEN = 'scrape-3f1d9c0a7b6e45d2';

let d: DaemonHandle;

before(async () => {
  d = await startTeamDaemon(['mia'], '', '', `metrics:\n  token: ${SCRAPE_TOKEN}\n`);
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe('GET /metrics access (team daemon)', () => {
  it('answers admins and the metrics token', async () => {
    for (const headers of [asAdmin(), bearer(SCRAPE_TOKEN)]) {
      const res = await http(`${d.url}/metrics`, { headers });
      assert.equal(res.status, 200, res.text);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
      const samples = parseExposition(res.text);
      assert.ok(samples.some((s) => s.name === 'sky_request_queue_depth' && s.labels.replica !== undefined && s.labels.replica !== ''));
    }
  });

  it('refuses a plain user with 403, in the audit log', async () => {
    const since = Date.now() - 5;
    const res = await http(`${d.url}/metrics`, { headers: asUser('mia') });
    assert.equal(res.status, 403, res.text);
    assert.equal(errorOf(res.text).code, 'FORBIDDEN');
    const audit = await http(`${d.url}/api/v1/audit?user=mia&since=${since}`, { headers: asAdmin() });
    const entries = (audit.json() as { items: Array<{ action: string; result: string }> }).items;
    assert.ok(entries.some((e) => e.action === 'metrics' && e.result === 'DENIED'), JSON.stringify(entries));
  });

  it('refuses an outsider and a wrong token with 401', async () => {
    const none = await http(`${d.url}/metrics`);
    assert.equal(none.status, 401, none.text);
    assert.equal(errorOf(none.text).code, 'UNAUTHENTICATED');
    for (const token of [`${SCRAPE_TOKEN}x`, SCRAPE_TOKEN.slice(0, -1), 'not-a-token']) {
      const wrong = await http(`${d.url}/metrics`, { headers: bearer(token) });
      assert.equal(wrong.status, 401, `${token}: ${wrong.text}`);
    }
  });

  it('opens no other route with the metrics token', async () => {
    for (const path of ['/api/v1/clusters', '/api/v1/users/me', '/api/v1/audit']) {
      const res = await http(`${d.url}${path}`, { headers: bearer(SCRAPE_TOKEN) });
      assert.equal(res.status, 401, `${path}: ${res.text}`);
    }
    const post = await http(`${d.url}/metrics`, { method: 'POST', headers: bearer(SCRAPE_TOKEN) });
    assert.notEqual(post.status, 200);
  });
});
