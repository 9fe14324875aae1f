import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { runSky, showRun, spawnSky, type CliRun } from '../helpers/sky-cli.js';

// `sky api events` (the built CLI) against a real daemon with the local driver.

let d: DaemonHandle;
let home: string;

before(async () => {
  home = tempHome();
  d = await startDaemon({ home, config: `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 8\n    memory_gb: 16\n` });
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  removeHome(home);
});

/** Wait until the run's stdout has a line matching (30 s at most). */
async function lineOf(run: CliRun, match: RegExp, what: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const line = run.out.stdout.split('\n').find((l) => match.test(l));
    if (line !== undefined) return line;
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`no ${what} in sky api events:\n${run.out.stdout}\n--- stderr\n${run.out.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stop a following run the way Ctrl-C does, and wait for its end. */
async function interrupt(run: CliRun): Promise<number | null> {
  run.child.kill('SIGINT');
  return (await run.done).code;
}

describe('sky api events', () => {
  let upSeq = 0;

  it('prints the change lines of a launch while it runs, until Ctrl-C', async () => {
    const follow = spawnSky(['api', 'events'], { home, endpoint: d.url, timeoutMs: 120_000 });
    try {
      // Live once connected: pings until one shows up say the CLI follows the stream.
      for (let i = 0; !/\brequest\b/.test(follow.out.stdout); i++) {
        assert.ok(i < 50, `sky api events shows no ping:\n${follow.out.stderr}`);
        const ping = await runSky(['api', 'ping'], { home, endpoint: d.url, timeoutMs: 30_000 });
        assert.equal(ping.code, 0, showRun(['api', 'ping'], ping));
        await new Promise((r) => setTimeout(r, 100));
      }
      const launch = await runSky(['launch', '-c', 'ev-cli', '-y', '--', 'echo hi'], { home, endpoint: d.url, timeoutMs: 120_000 });
      assert.equal(launch.code, 0, showRun(['launch'], launch));
      const up = await lineOf(follow, /\bcluster\s+ev-cli\s+UP$/, 'cluster ev-cli UP');
      assert.match(up, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z {2}#\d+ {2}cluster/);
      upSeq = Number(/#(\d+)/.exec(up)![1]);
      await lineOf(follow, /\bjob\s+ev-cli\/1\s+SUCCEEDED$/, 'job ev-cli/1 SUCCEEDED');
      await lineOf(follow, /\brequest\s+\S+\s+SUCCEEDED$/, 'the launch request SUCCEEDED');
    } finally {
      assert.equal(await interrupt(follow), 0, `sky api events ends cleanly on Ctrl-C:\n${follow.out.stderr}`);
    }
  });

  it('--since SEQ -o json replays what came after as JSON lines; a time is refused', async () => {
    const follow = spawnSky(['api', 'events', '--since', String(upSeq - 1), '-o', 'json'], { home, endpoint: d.url, timeoutMs: 60_000 });
    try {
      const line = await lineOf(follow, /"key":"ev-cli\/1".*"status":"SUCCEEDED"/, 'job ev-cli/1 SUCCEEDED as JSON');
      const parsed = JSON.parse(line) as { seq: number; kind: string; record: { status: string } };
      assert.equal(parsed.kind, 'job');
      assert.equal(parsed.record.status, 'SUCCEEDED');
      const first = JSON.parse(follow.out.stdout.split('\n')[0]!) as { seq: number; kind: string; key: string };
      assert.deepEqual([first.seq, first.kind, first.key], [upSeq, 'cluster', 'ev-cli'], 'the replay starts right after the position');
    } finally {
      await interrupt(follow);
    }
    const bad = await runSky(['api', 'events', '--since', '10m'], { home, endpoint: d.url, timeoutMs: 30_000 });
    assert.notEqual(bad.code, 0, showRun(['api', 'events', '--since', '10m'], bad));
    assert.match(bad.stderr, /feed position/);
  });
});
