import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorOf, runOperation } from '../helpers/team.js';
import { verifySignature } from '../../core/daemon/src/webhooks/signing.js';
import { runSky, showRun, type CliResult } from '../helpers/sky-cli.js';

// Webhooks against a real daemon: a receiver on 127.0.0.1 (a dynamic port, allowed by address in the config).

interface Rec {
  id: string;
  status: string;
}
interface Payload {
  seq: number;
  at: number;
  kind: string;
  key: string;
  record: { status?: string; lastCommand?: string; command?: string; body?: unknown } | null;
}
interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  payload: Payload;
  answered: number;
}

/** A local receiver: records every POST per path, answers each path's scripted statuses in turn (200 once they run out). */
class Receiver {
  readonly got = new Map<string, Received[]>();
  readonly script = new Map<string, number[]>();
  private waiters: (() => void)[] = [];
  private server!: Server;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const answered = this.script.get(path)?.shift() ?? 200;
        const list = this.got.get(path) ?? [];
        list.push({ headers: req.headers, body, payload: JSON.parse(body) as Payload, answered });
        this.got.set(path, list);
        res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'ok' : 'try again later');
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  all(path: string): Received[] {
    return this.got.get(path) ?? [];
  }

  /** Wait until a delivery to `path` matches (20 s at most). */
  async waitFor(path: string, match: (r: Received) => boolean, what: string): Promise<Received> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = this.all(path).find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} delivered to ${path}; got: ${this.all(path).map((r) => `${r.payload.seq} ${r.payload.kind} ${r.payload.key} ${r.payload.record?.status ?? 'null'}`).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

let d: DaemonHandle;
let home: string;
let port: number;
const receiver = new Receiver();
const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };
const inWorkspace = (workspace: string): Record<string, string> => ({ ...HEADERS, 'x-sky-workspace': workspace });
const config = (allow: string): string =>
  `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 8\n    memory_gb: 16\n` +
  `webhooks:\n  allow:\n    - ${allow}\n  backoff_ms: 50\n  max_backoff_ms: 400\n  max_attempts: 100\n  poll_seconds: 0.5\n  timeout_seconds: 5\n`;

async function start(): Promise<void> {
  d = await startDaemon({ home, port, config: config(`127.0.0.1:${receiver.port}`) });
}

async function addHook(workspace: string, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await http(`${d.url}/api/v1/workspaces/${workspace}/webhooks`, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
  assert.equal(res.status, 201, res.text);
  return res.json() as { id: string; secret: string };
}

before(async () => {
  home = tempHome();
  port = await freePort();
  await receiver.start();
  await start();
  const ws = await http(`${d.url}/api/v1/workspaces`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ name: 'other' }) });
  assert.equal(ws.status, 201, ws.text);
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  await receiver.stop();
  removeHome(home);
});

describe('webhooks', () => {
  let main: { id: string; secret: string };

  it('refuses a URL webhooks.allow does not admit, and audits the refusal', async () => {
    for (const url of ['http://127.0.0.1:1/x', 'http://2130706433:1/x', 'http://localhost:1/x', 'http://169.254.169.254/latest']) {
      const res = await http(`${d.url}/api/v1/workspaces/default/webhooks`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ url }) });
      assert.equal(res.status, 400, res.text);
      assert.equal(errorOf(res.text).code, 'WEBHOOK_URL_NOT_ALLOWED', url);
    }
    const audit = await http(`${d.url}/api/v1/audit?limit=20`, { headers: HEADERS });
    const items = (audit.json() as { items: { action: string; result: string; detail?: string }[] }).items;
    assert.ok(items.some((e) => e.action === 'webhook.create' && e.result === 'DENIED' && e.detail?.includes('http://127.0.0.1:1/x') === true), JSON.stringify(items.slice(0, 5)));
  });

  it("delivers a launch and its job, signed, without command lines, and nothing of another workspace", async () => {
    main = await addHook('default', { url: receiver.url('/main') });
    assert.match(main.secret, /^whsec_/);
    const other = await addHook('other', { url: receiver.url('/other'), kinds: ['cluster'] });
    const list = await http(`${d.url}/api/v1/workspaces/default/webhooks`, { headers: HEADERS });
    assert.equal(list.status, 200, list.text);
    assert.ok(!list.text.includes(main.secret) && !list.text.includes('sky-sealed'), 'the secret is never shown again');
    assert.deepEqual((list.json() as { items: { id: string }[] }).items.map((h) => h.id), [main.id]);

    const launch = await runOperation<Rec>(d.url, 'launch', { cluster: 'wh-a', task: { run: 'echo SECRET-COMMAND' } }, HEADERS);
    assert.equal(launch.status, 'SUCCEEDED');
    const up = await receiver.waitFor('/main', (r) => r.payload.kind === 'cluster' && r.payload.key === 'wh-a' && r.payload.record?.status === 'UP', 'cluster wh-a UP');
    const job = await receiver.waitFor('/main', (r) => r.payload.kind === 'job' && r.payload.key === 'wh-a/1' && r.payload.record?.status === 'SUCCEEDED', 'job wh-a/1 SUCCEEDED');
    await receiver.waitFor('/main', (r) => r.payload.kind === 'request' && r.payload.key === launch.id && r.payload.record?.status === 'SUCCEEDED', 'the launch request');
    for (const r of [up, job]) {
      assert.ok(verifySignature(main.secret, r.body, r.headers['x-sky-signature'] as string), 'signed with the secret');
      assert.equal(r.headers['x-sky-event'], r.payload.kind);
      assert.equal(r.headers['x-sky-delivery'], `${main.id}-${r.payload.seq}`);
    }
    for (const r of receiver.all('/main')) {
      assert.doesNotMatch(r.body, /SECRET-COMMAND/, 'no command lines, no request bodies');
      assert.ok(verifySignature(main.secret, r.body, r.headers['x-sky-signature'] as string));
    }
    // A cluster in the other workspace: only its webhook hears of it, and only clusters.
    const launchOther = await runOperation<Rec>(d.url, 'launch', { cluster: 'wh-b', task: { run: 'true' } }, inWorkspace('other'));
    assert.equal(launchOther.status, 'SUCCEEDED');
    const otherUp = await receiver.waitFor('/other', (r) => r.payload.key === 'wh-b' && r.payload.record?.status === 'UP', 'cluster wh-b UP');
    assert.ok(verifySignature(other.secret, otherUp.body, otherUp.headers['x-sky-signature'] as string));
    assert.ok(receiver.all('/other').every((r) => r.payload.kind === 'cluster' && r.payload.key === 'wh-b'), 'only its own workspace, only clusters');
    // A ping after both launches in default: once it arrives, everything before it was handled.
    const ping = await runOperation<Rec>(d.url, 'ping', {}, HEADERS);
    await receiver.waitFor('/main', (r) => r.payload.key === ping.id && r.payload.record?.status === 'SUCCEEDED', 'the ping');
    assert.ok(receiver.all('/main').every((r) => r.payload.key !== 'wh-b' && r.payload.key !== launchOther.id && !r.payload.key.startsWith('wh-b/')), 'nothing of the other workspace');
  });

  it('retries a receiver that answers 500 twice: the event arrives on the third attempt, logged', async () => {
    const flaky = await addHook('default', { url: receiver.url('/flaky'), kinds: ['request'] });
    receiver.script.set('/flaky', [500, 500]);
    const ping = await runOperation<Rec>(d.url, 'ping', {}, HEADERS);
    // The first change of the ping (its request stored) meets the two 500s.
    const got = await receiver.waitFor('/flaky', (r) => r.payload.key === ping.id && r.answered === 200, 'the ping answered 200');
    assert.equal(got.payload.seq, receiver.all('/flaky')[0]!.payload.seq);
    const attempts = receiver.all('/flaky').filter((r) => r.payload.seq === got.payload.seq);
    assert.deepEqual(attempts.map((r) => r.answered), [500, 500, 200]);
    assert.equal(new Set(attempts.map((r) => r.headers['x-sky-delivery'])).size, 1, 'one delivery id over its attempts');
    const log = await http(`${d.url}/api/v1/workspaces/default/webhooks/${flaky.id}/deliveries`, { headers: HEADERS });
    assert.equal(log.status, 200, log.text);
    const entry = (log.json() as { items: { seq: number; attempts: number; status: number; ok: boolean; url: string }[] }).items.find((e) => e.seq === got.payload.seq);
    assert.deepEqual(entry && { attempts: entry.attempts, status: entry.status, ok: entry.ok, url: entry.url }, { attempts: 3, status: 200, ok: true, url: receiver.url('/flaky') });
    const del = await http(`${d.url}/api/v1/workspaces/default/webhooks/${flaky.id}`, { method: 'DELETE', headers: HEADERS });
    assert.equal(del.status, 200, del.text);
  });

  it('the CLI adds, lists, shows the deliveries of and removes a webhook', async () => {
    const sky = (args: string[]): Promise<CliResult> => runSky(args, { home, endpoint: d.url });
    const added = await sky(['workspace', 'webhook-add', 'default', receiver.url('/cli'), '--kind', 'request', '--on-status', 'succeeded']);
    assert.equal(added.code, 0, showRun(['webhook-add'], added));
    const secret = added.stdout.trim();
    assert.match(secret, /\S{16,}/, 'the secret alone on standard output');
    const id = /Webhook (wh-[0-9a-f]+)/.exec(added.stderr)?.[1] ?? assert.fail(added.stderr);
    const listed = await sky(['workspace', 'webhooks', 'default']);
    assert.equal(listed.code, 0, showRun(['webhooks'], listed));
    assert.match(listed.stdout, new RegExp(`${id}\\s+${receiver.url('/cli').replace(/[.]/g, '\\.')}\\s+request\\s+SUCCEEDED`));
    const ping = await runOperation<Rec>(d.url, 'ping', {}, HEADERS);
    const got = await receiver.waitFor('/cli', (r) => r.payload.key === ping.id, 'the ping, through the webhook the CLI made');
    assert.ok(verifySignature(secret, got.body, String(got.headers['x-sky-signature'])), 'signed with the secret the CLI printed');
    const log = await sky(['workspace', 'webhook-log', 'default', id]);
    assert.equal(log.code, 0, showRun(['webhook-log'], log));
    assert.match(log.stdout, new RegExp(`#${got.payload.seq}\\s+request\\s+${ping.id}\\s+OK 200`));
    const removed = await sky(['workspace', 'webhook-rm', 'default', id]);
    assert.equal(removed.code, 0, showRun(['webhook-rm'], removed));
    assert.doesNotMatch((await sky(['workspace', 'webhooks', 'default'])).stdout, new RegExp(id));
    const bad = await sky(['workspace', 'webhook-add', 'default', receiver.url('/cli'), '--kind', 'jobs']);
    assert.equal(bad.code, 2, showRun(['webhook-add --kind jobs'], bad));
  });

  it('resumes after a restart of the daemon: every change once, no gap, no repeat', async () => {
    const before = await runOperation<Rec>(d.url, 'ping', {}, HEADERS);
    await receiver.waitFor('/main', (r) => r.payload.key === before.id && r.payload.record?.status === 'SUCCEEDED', 'the ping before the restart');
    // The receiver is down (503) while changes happen and the daemon stops: they were never acknowledged, so they come after the restart.
    receiver.script.set('/main', Array.from({ length: 1000 }, () => 503));
    const stalled = await runOperation<Rec>(d.url, 'ping', {}, HEADERS);
    // Request records show their latest state: a change of the earlier ping may be the one refused; either way it is left unacknowledged.
    await receiver.waitFor('/main', (r) => r.answered === 503, 'a refused attempt');
    assert.equal(stalled.status, 'SUCCEEDED');
    assert.equal(await d.stop(), 0);
    receiver.script.delete('/main');
    await start();
    await receiver.waitFor('/main', (r) => r.payload.key === stalled.id && r.payload.record?.status === 'SUCCEEDED' && r.answered === 200, 'the stalled ping, after the restart');
    const launched = await runOperation<Rec>(d.url, 'launch', { cluster: 'wh-c', task: { run: 'true' } }, HEADERS);
    assert.equal(launched.status, 'SUCCEEDED');
    await receiver.waitFor('/main', (r) => r.payload.key === launched.id && r.payload.record?.status === 'SUCCEEDED', 'the launch after the restart');
    const seqs = receiver.all('/main').filter((r) => r.answered === 200).map((r) => r.payload.seq);
    assert.equal(new Set(seqs).size, seqs.length, `no change acknowledged twice: ${seqs.join(',')}`);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in feed order');
    // No gap: every change of the default workspace since the webhook was made was delivered (the feed, read by an admin, says which).
    const first = seqs[0]!;
    const feed = await readFeed(first - 1, seqs.at(-1)!);
    const expected = feed.filter((e) => e.workspace === 'default').map((e) => e.seq);
    assert.deepEqual(seqs, expected, JSON.stringify({ feed: feed.filter((e) => !seqs.includes(e.seq)), got: receiver.all('/main').filter((r) => !seqs.includes(r.payload.seq)).map((r) => [r.payload.seq, r.answered]) }));
  });
});

/** The feed's changes between two positions with the workspace each belongs to, from the event stream (an admin sees all with all_users). */
async function readFeed(after: number, last: number): Promise<{ seq: number; workspace: string; what: string }[]> {
  const { EventReader } = await import('../helpers/event-stream.js');
  const reader = await EventReader.open(d.url, { headers: HEADERS, query: `all_users=true&after=${after}` });
  try {
    await reader.waitFor((e) => e.event === 'ready' || (e.event === 'change' && e.data.seq >= last), 'the backlog');
    const clusters = new Map<string, string>();
    const out: { seq: number; workspace: string; what: string }[] = [];
    for (const e of reader.changes) {
      if (e.data.seq > last) break;
      const record = e.data.record as { workspace?: string; cluster?: string } | null;
      let workspace = record?.workspace;
      const key = e.data.key ?? '';
      if (e.data.kind === 'cluster' && workspace !== undefined) clusters.set(key, workspace);
      if (e.data.kind === 'job') workspace = clusters.get(key.split('/')[0]!) ?? (key.startsWith('wh-b/') ? 'other' : 'default');
      // A request pruned since shows no record: nothing a webhook could be sent.
      if (e.data.kind === 'request' && record === null) continue;
      out.push({ seq: e.data.seq, workspace: workspace ?? 'default', what: `${e.data.kind} ${e.data.key} ${(e.data.record as { status?: string } | null)?.status ?? 'null'}` });
    }
    return out;
  } finally {
    reader.close();
  }
}
