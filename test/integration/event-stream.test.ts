import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SkyClient, parseEndpoint } from '@sky/client';
import type { FeedEvent } from '@sky/protocol';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { EventReader, labelOf, type StreamedEvent } from '../helpers/event-stream.js';
import { runOperation } from '../helpers/team.js';

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

interface Rec {
  id: string;
  status: string;
}

let d: DaemonHandle;
let home: string;
const config = (root: string): string => `drivers:\n  local:\n    root: ${root}\n    cpus: 8\n    memory_gb: 16\n`;
const op = (name: string, body: unknown): Promise<Rec> => runOperation<Rec>(d.url, name, body, HEADERS);
const open = (options: { query?: string; lastEventId?: string } = {}): Promise<EventReader> => EventReader.open(d.url, { headers: HEADERS, ...options });

/** The position of the first event matching, failing when there is none. */
function indexOf(events: readonly StreamedEvent[], match: (e: StreamedEvent) => boolean, what: string): number {
  const i = events.findIndex(match);
  assert.ok(i >= 0, `no ${what} among ${events.map(labelOf).join(', ')}`);
  return i;
}

function assertAscending(events: readonly StreamedEvent[]): void {
  for (const [i, e] of events.entries()) {
    assert.equal(e.id, String(e.data.seq), 'the id line of a change is its seq');
    if (i > 0) assert.ok(e.data.seq > events[i - 1]!.data.seq, `seq ${e.data.seq} after ${events[i - 1]!.data.seq}`);
  }
}

/** What a change is about, without request records (a replayed request shows its latest state). */
const identity = (e: StreamedEvent): string => `${e.data.seq} ${e.data.kind} ${e.data.key}`;

before(async () => {
  home = tempHome();
  d = await startDaemon({ home, port: await freePort(), config: config(join(home, 'nodes')) });
});

after(async () => {
  await d.stop();
  await killAllDaemons();
  removeHome(home);
});

describe('event stream', () => {
  it('shows a launch, an exec and a stop through the API as changes, in commit order', async () => {
    const reader = await open();
    try {
      const ready = await reader.waitFor((e) => e.event === 'ready', 'ready');
      assert.ok(reader.raw.startsWith('retry: 3000\n\n'), `the stream starts with its retry time: ${JSON.stringify(reader.raw.slice(0, 40))}`);
      assert.equal(reader.events[0]?.event, 'ready', 'without a position the stream starts live: ready comes first');
      const launch = await op('launch', { cluster: 'ev', task: { run: 'echo hello' } });
      const exec = await op('exec', { cluster: 'ev', task: { run: 'echo again' } });
      const stop = await op('stop', { cluster: 'ev' });
      for (const r of [launch, exec, stop]) assert.equal(r.status, 'SUCCEEDED');
      await reader.waitFor((e) => e.data.kind === 'request' && e.data.key === stop.id && (e.data.record as Rec).status === 'SUCCEEDED', 'the stop request SUCCEEDED');
      // Stopping the cluster ends whatever of its jobs is still running.
      await reader.waitFor((e) => e.data.kind === 'job' && e.data.key === 'ev/2' && ['SUCCEEDED', 'CANCELLED'].includes((e.data.record as Rec).status), 'job ev/2 ending');
      const changes = reader.changes;
      assertAscending(changes);
      assert.ok(changes.every((e) => e.data.seq > ready.data.seq));
      const at = (label: string): number => indexOf(changes, (e) => labelOf(e) === label, label);
      // The launch request is stored first, the cluster comes up, its job runs, the request ends.
      assert.ok(at(`request ${launch.id} PENDING`) < at('cluster ev UP'));
      assert.ok(at('cluster ev UP') < at('job ev/1 PENDING'));
      assert.ok(at('job ev/1 PENDING') < at(`request ${launch.id} SUCCEEDED`));
      assert.ok(at(`request ${exec.id} PENDING`) < at('job ev/2 PENDING'));
      assert.ok(at(`request ${stop.id} RUNNING`) < at('cluster ev STOPPED'));
      assert.ok(at('cluster ev STOPPED') < at(`request ${stop.id} SUCCEEDED`));
      const upRecord = changes[at('cluster ev UP')]!.data.record as { name: string; owner: string; numNodes: number };
      assert.equal(upRecord.name, 'ev');
      assert.equal(upRecord.owner, 'u-alice');
      const launched = changes.filter((e) => e.data.key === launch.id).at(-1)!.data.record as { body: unknown; user: string };
      assert.equal(launched.user, 'u-alice');
      assert.notEqual(launched.body, null, 'the owner sees the body of their own request');
    } finally {
      reader.close();
    }
  });

  it('resumes after a disconnect with Last-Event-ID: exactly the changes missed, then live', async () => {
    const witness = await open();
    const first = await open();
    try {
      await witness.waitFor((e) => e.event === 'ready', 'ready');
      await first.waitFor((e) => e.event === 'ready', 'ready');
      await op('ping', {});
      const seen = await first.waitFor((e) => e.event === 'change' && e.data.kind === 'request' && (e.data.record as Rec).status === 'SUCCEEDED', 'a finished ping');
      first.close();
      const missed = [await op('ping', {}), await op('ping', {}), await op('start', { cluster: 'ev' })];
      assert.deepEqual(missed.map((r) => r.status), ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      const last = await witness.waitFor((e) => e.data.kind === 'request' && e.data.key === missed[2]!.id && (e.data.record as Rec).status === 'SUCCEEDED', 'the last request finished');
      const resumed = await open({ lastEventId: seen.id });
      try {
        const ready = await resumed.waitFor((e) => e.event === 'ready', 'ready');
        const backlog = resumed.changes;
        const expected = witness.changes.filter((e) => e.data.seq > seen.data.seq && e.data.seq <= ready.data.seq);
        assert.ok(ready.data.seq >= last.data.seq);
        assert.deepEqual(backlog.map(identity), expected.map(identity), 'the backlog is exactly what the witness saw after the position');
        assertAscending(backlog);
        // Clusters and jobs replay as they were committed.
        for (const [i, e] of backlog.entries()) if (e.data.kind !== 'request') assert.deepEqual(e.data.record, expected[i]!.data.record);
        // And live from there: a new change arrives once.
        const next = await op('ping', {});
        await resumed.waitFor((e) => e.data.key === next.id && (e.data.record as Rec).status === 'SUCCEEDED', 'the next ping, live');
        const ids = resumed.changes.map((e) => e.data.seq);
        assert.equal(new Set(ids).size, ids.length, 'no change twice');
      } finally {
        resumed.close();
      }
      // `after` does the same when there is no header; the header wins when both are given.
      const byQuery = await open({ query: `after=${seen.data.seq}` });
      const both = await open({ query: 'after=0', lastEventId: seen.id });
      try {
        await byQuery.waitFor((e) => e.event === 'ready', 'ready');
        await both.waitFor((e) => e.event === 'ready', 'ready');
        assert.equal(byQuery.changes[0]?.data.seq, seen.data.seq + 1);
        assert.equal(both.changes[0]?.data.seq, seen.data.seq + 1);
      } finally {
        byQuery.close();
        both.close();
      }
    } finally {
      witness.close();
      first.close();
    }
  });

  it('refuses a position that is not a sequence number, before the stream opens', async () => {
    for (const [options, field] of [
      [{ lastEventId: 'abc' }, 'Last-Event-ID'],
      [{ lastEventId: '-3' }, 'Last-Event-ID'],
      [{ query: 'after=-1' }, 'after'],
      [{ query: 'after=1.5' }, 'after'],
      [{ query: 'all_users=maybe' }, 'all_users'],
    ] as const) {
      const err = (await open(options).then(
        (r) => {
          r.close();
          return undefined;
        },
        (e: unknown) => e,
      )) as { status?: number; body?: string } | undefined;
      assert.equal(err?.status, 400, `${JSON.stringify(options)} is refused`);
      assert.match(err?.body ?? '', /VALIDATION_FAILED/);
      assert.match(err?.body ?? '', new RegExp(field));
    }
  });

  it('answers a position ahead of the feed with a reset, then goes on live', async () => {
    const reader = await open({ lastEventId: '999999999' });
    try {
      const reset = await reader.waitFor((e) => e.event === 'reset', 'reset');
      assert.match(reset.data.reason ?? '', /ahead/);
      const ready = await reader.waitFor((e) => e.event === 'ready', 'ready');
      assert.equal(ready.data.seq, reset.data.seq);
      const ping = await op('ping', {});
      const live = await reader.waitFor((e) => e.data.key === ping.id, 'the ping, live');
      assert.ok(live.data.seq > reset.data.seq);
    } finally {
      reader.close();
    }
  });

  it('follows through the SDK across a kill -9 of the daemon: no gap, no repeat', async () => {
    const endpoint = await parseEndpoint(d.url, 'test');
    const client = new SkyClient({ endpoint, identity: { id: 'u-alice', name: 'alice' }, home });
    const got: FeedEvent[] = [];
    const readies: number[] = [];
    const stop = new AbortController();
    let wake: (() => void) | undefined;
    const following = client.followEvents(
      { signal: stop.signal, allUsers: true, retryMs: 200 },
      {
        onChange: (e) => {
          got.push(e);
          wake?.();
        },
        onReady: (seq) => {
          readies.push(seq);
          wake?.();
        },
      },
    );
    const until = async (done: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`no ${what}; got ${got.map((e) => `${e.seq}:${e.kind}`).join(', ')}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
    };
    try {
      await until(() => readies.length === 1, 'first ready');
      const before = await op('ping', {});
      await until(() => got.some((e) => e.key === before.id && (e.record as Rec).status === 'SUCCEEDED'), 'the first ping');
      const port = d.port;
      await d.kill9();
      // Written while nobody follows: the stream must deliver these after the restart.
      d = await startDaemon({ home, port, config: config(join(home, 'nodes')) });
      const afterRestart = [await op('ping', {}), await op('ping', {})];
      await until(() => afterRestart.every((r) => got.some((e) => e.key === r.id && (e.record as Rec).status === 'SUCCEEDED')), 'both pings after the restart');
      assert.ok(readies.length >= 2, 'the follower reconnected');
      const seqs = got.map((e) => e.seq);
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, `no gap nor repeat at ${seqs[i - 1]} → ${seqs[i]} (the owner of a personal daemon sees every change)`);
    } finally {
      stop.abort();
      await following;
      client.close();
    }
  });
});

describe('event stream and a graceful stop', () => {
  it('ends open streams when the daemon stops, and resumes after it starts again', async () => {
    const reader = await open({ query: 'all_users=true' });
    await reader.waitFor((e) => e.event === 'ready', 'ready');
    const ping = await op('ping', {});
    const seen = await reader.waitFor((e) => e.data.key === ping.id && (e.data.record as Rec).status === 'SUCCEEDED', 'the ping');
    const port = d.port;
    assert.equal(await d.stop(), 0, 'the daemon stops cleanly with a stream open');
    await reader.waitEnd(10_000);
    d = await startDaemon({ home, port, config: config(join(home, 'nodes')) });
    const next = await op('ping', {});
    const resumed = await open({ query: 'all_users=true', lastEventId: seen.id });
    try {
      await resumed.waitFor((e) => e.data.key === next.id && (e.data.record as Rec).status === 'SUCCEEDED', 'the ping after the restart');
      assert.equal(resumed.changes[0]?.data.seq, seen.data.seq + 1, 'nothing between the two is lost');
    } finally {
      resumed.close();
    }
  });
});

describe('event stream retention', () => {
  let r: DaemonHandle;
  let rHome: string;

  before(async () => {
    rHome = tempHome();
    // About a second of retention, pruned every second.
    r = await startDaemon({ home: rHome, config: `events:\n  retention_hours: 0.0003\n  prune_interval_seconds: 1\n` });
  });

  after(async () => {
    await r.stop();
    removeHome(rHome);
  });

  it('answers a position older than the retained feed with a reset; live changes follow', async () => {
    const first = await runOperation<Rec>(r.url, 'ping', {}, HEADERS);
    assert.equal(first.status, 'SUCCEEDED');
    const deadline = Date.now() + 20_000;
    let reset: StreamedEvent | undefined;
    let reader: EventReader | undefined;
    while (reset === undefined) {
      reader?.close();
      reader = await EventReader.open(r.url, { headers: HEADERS, lastEventId: '1' });
      const got = await reader.waitFor((e) => e.event === 'ready' || e.event === 'reset', 'ready or reset');
      if (got.event === 'reset') reset = got;
      else {
        assert.ok(Date.now() < deadline, 'the feed was never pruned past retention');
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
    try {
      assert.match(reset.data.reason ?? '', /older than the retained feed/);
      assert.equal(reader!.changes.length, 0, 'nothing is replayed from a position that cannot be resumed');
      const ready = await reader!.waitFor((e) => e.event === 'ready', 'ready');
      assert.equal(ready.data.seq, reset.data.seq);
      const next = await runOperation<Rec>(r.url, 'ping', {}, HEADERS);
      await reader!.waitFor((e) => e.data.key === next.id, 'the next ping, live');
      const res = await http(`${r.url}/api/v1/requests/${first.id}`, { headers: HEADERS });
      assert.equal(res.status, 200, 'the pruned changes were the feed only: the request itself is kept');
    } finally {
      reader?.close();
    }
  });
});
