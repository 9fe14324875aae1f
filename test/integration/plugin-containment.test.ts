import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SkyClient, ensureDaemon, parseEndpoint } from '@sky/client';
import { DAEMON_MAIN, REPO_ROOT, freePort, http, removeHome, tempHome, useLocalToken } from '../helpers/daemon-process.js';
import { alive, waitFor } from '../helpers/processes.js';
import { runSky, showRun, spawnSky } from '../helpers/sky-cli.js';

/*
 * What a faulty plugin may do to a real daemon started with `sky daemon start --config F`
 * (supervisor included), and the outcome each fault must have. In-process faults: the daemon
 * keeps serving (same pid), the plugin is failed with the reason, and the log names the plugin,
 * its package and version with the stack. A busy loop cannot be interrupted in-process: the
 * supervisor's heartbeat watchdog kills the daemon and restarts it with the same config, and the
 * restarted daemon quarantines the plugin its marker file names.
 */

const VERSION = '2.3.4';

interface InProcessRow {
  fault: string;
  id: string;
  kind: string;
  message: RegExp;
}

const IN_PROCESS: readonly InProcessRow[] = [
  { fault: 'a throw from a plugin timer', id: 'timer', kind: 'uncaught exception', message: /tripped over its own timer/ },
  { fault: 'an unhandled rejection', id: 'rejection', kind: 'unhandled rejection', message: /lost a promise/ },
  { fault: 'a throw in an event-emitter callback', id: 'emitter', kind: 'uncaught exception', message: /choked on a data event/ },
  { fault: 'process.exit()', id: 'exit', kind: 'process.exit', message: /process\.exit\(3\) called by plugin code was refused/ },
];

interface DaemonJson {
  pid: number;
  url: string;
  supervisor?: number;
}
interface PluginItem {
  id: string;
  state: string;
  version?: string;
  error?: { code: string; message: string };
}
interface LogLine {
  level: number;
  pid?: number;
  plugin?: string;
  package?: string;
  version?: string;
  kind?: string;
  operation?: string;
  msg: string;
  err?: { stack?: string };
}

const home = tempHome();
const configFile = join(home, 'daemon.yaml');
const apiDir = join(home, '.sky/api_server');
let port = 0;
let url = '';
/** Every pid of a daemon or supervisor seen, killed in after() should a test fail halfway. */
const seen = new Set<number>();

function daemonJson(): DaemonJson {
  const info = JSON.parse(readFileSync(join(apiDir, 'daemon.json'), 'utf8')) as DaemonJson;
  seen.add(info.pid);
  if (info.supervisor !== undefined) seen.add(info.supervisor);
  return info;
}

function logLines(): LogLine[] {
  return readFileSync(join(apiDir, 'server.log'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

async function plugins(): Promise<PluginItem[]> {
  const res = await http(`${url}/api/v1/plugins`);
  assert.equal(res.status, 200, res.text);
  return (res.json() as { items: PluginItem[] }).items;
}

async function healthPid(): Promise<number | undefined> {
  try {
    const res = await http(`${url}/api/health`);
    return res.status === 200 ? (res.json() as { pid: number }).pid : undefined;
  } catch {
    return undefined;
  }
}

/** Wait for a daemon other than `old` to serve, started by the same supervisor; returns its daemon.json. */
async function restartedFrom(old: DaemonJson): Promise<DaemonJson> {
  let now: DaemonJson | undefined;
  await waitFor(
    async () => {
      if (!existsSync(join(apiDir, 'daemon.json'))) return false;
      now = daemonJson();
      return now.pid !== old.pid && (await healthPid()) === now.pid;
    },
    30_000,
    'the supervisor to restart the API server',
  );
  useLocalToken(url, home);
  return now!;
}

function sky(args: string[], timeoutMs = 60_000) {
  return runSky(args, { home, endpoint: url, timeoutMs });
}

before(async () => {
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const fixtures = join(REPO_ROOT, 'test/fixtures/plugins');
  writeFileSync(
    configFile,
    [
      `listen:\n  port: ${port}`,
      `plugins:\n  dirs: [${fixtures}]`,
      'watchdog:\n  stall_seconds: 2',
      'drivers:',
      ...IN_PROCESS.map((row) => `  ${row.id}: {package: sky-driver-fault-${row.id}}`),
      '  busy: {package: sky-driver-fault-busyloop}',
      '  provision: {package: sky-driver-fault-provision}',
      '  throwinit: {on_failure: skip}',
      '',
    ].join('\n'),
  );
});

after(() => {
  for (const pid of seen) {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  removeHome(home);
});

describe('a daemon a buggy plugin cannot take down', () => {
  let first: DaemonJson;

  it('sky daemon start --config runs the daemon under a supervisor and records how it was started', async () => {
    const r = await sky(['daemon', 'start', '--config', configFile]);
    assert.equal(r.code, 0, showRun(['daemon', 'start'], r));
    first = daemonJson();
    assert.ok(first.supervisor !== undefined && alive(first.supervisor), 'daemon.json names a live supervisor');
    const supervisor = JSON.parse(readFileSync(join(apiDir, 'supervisor.json'), 'utf8')) as { pid: number; args: string[] };
    assert.equal(supervisor.pid, first.supervisor);
    assert.deepEqual(supervisor.args, ['--config', configFile]);
    const record = JSON.parse(readFileSync(join(apiDir, 'daemon-start.json'), 'utf8')) as { mode: string; args: string[]; config: string };
    assert.deepEqual([record.mode, record.args, record.config], ['supervised', ['--config', configFile], configFile]);
    useLocalToken(url, home);
  });

  for (const row of IN_PROCESS) {
    it(`${row.fault}: the daemon keeps serving, the plugin is failed with the reason, the log has stack, name and version`, async () => {
      let item: PluginItem | undefined;
      await waitFor(async () => (item = (await plugins()).find((p) => p.id === row.id))?.state === 'failed', 15_000, `drivers.${row.id} to be failed`);
      assert.equal(item!.error?.code, 'PLUGIN_FAILED');
      assert.match(item!.error!.message, row.message);
      assert.match(item!.error!.message, new RegExp(`sky-driver-fault-${row.id}@${VERSION}`));
      assert.equal(await healthPid(), first.pid, 'the same daemon process still serves');
      const line = logLines().find((l) => l.level === 50 && l.plugin === row.id && l.kind === row.kind);
      assert.ok(line, `an error line for drivers.${row.id} (${row.kind})`);
      assert.equal(line.package, `sky-driver-fault-${row.id}`);
      assert.equal(line.version, VERSION);
      assert.match(line.err?.stack ?? '', new RegExp(`sky-driver-fault-${row.id}/index\\.js`), 'the stack runs through the plugin');
    });
  }

  it('sky check lists failed plugins with their reason', async () => {
    const r = await sky(['check']);
    assert.equal(r.code, 1, showRun(['check'], r));
    assert.match(r.stdout, new RegExp(`timer: stopped after a fault \\(plugin sky-driver-fault-timer@${VERSION}\\)\\n    Reason: .*tripped over its own timer`));
    assert.match(r.stdout, /throwinit: failed to load \(plugin sky-driver-throwinit@1\.0\.0\)\n {4}Reason: .*cannot reach the fixture cloud/);
    assert.match(r.stdout, /busy: enabled/);
  });

  it('sky launch --infra on a plugin that failed to load says so and why', async () => {
    const r = await sky(['launch', '--infra', 'throwinit', '-y', 'echo hi']);
    assert.notEqual(r.code, 0, showRun(['launch'], r));
    assert.match(r.stderr, /driver throwinit is configured on this API server, but its plugin sky-driver-throwinit@1\.0\.0 failed to load: .*cannot reach the fixture cloud/);
    assert.doesNotMatch(r.stderr, /enable it under drivers/i);
  });

  it('a plain exception thrown in provision is logged with its stack, the plugin and its version', async () => {
    const r = await sky(['launch', '--infra', 'provision', '-y', 'echo hi']);
    assert.notEqual(r.code, 0, showRun(['launch'], r));
    const line = logLines().find((l) => l.level === 50 && l.plugin === 'provision' && l.operation === 'provision');
    assert.ok(line, 'an error line for the provision call');
    assert.equal(line.version, VERSION);
    assert.match(line.msg, /sky-driver-fault-provision@2\.3\.4 provision threw: cannot read properties/);
    assert.match(line.err?.stack ?? '', /TypeError: cannot read properties[\s\S]*sky-driver-fault-provision\/index\.js/);
    assert.equal(await healthPid(), first.pid);
  });

  it('a busy loop in provision: the supervisor\'s watchdog restarts the daemon with the same config, which quarantines the plugin', async () => {
    const launch = spawnSky(['launch', '--infra', 'busy', '-y', 'echo hi'], { home, endpoint: url, timeoutMs: 60_000 });
    const next = await restartedFrom(first);
    await launch.done;
    assert.equal(next.supervisor, first.supervisor, 'the same supervisor restarted it');
    assert.ok(!alive(first.pid), 'the blocked daemon is gone');
    const busy = (await plugins()).find((p) => p.id === 'busy');
    assert.equal(busy?.state, 'failed');
    assert.match(busy.error?.message ?? '', new RegExp(`sky-driver-fault-busyloop@2\\.3\\.4 is quarantined since .*: its provision was running when the daemon process \\(pid ${first.pid}\\) died`));
    assert.match(busy.error?.message ?? '', /remove "busy" from .*plugin-quarantine\.json and restart the API server/);
    // The same configuration: every configured driver is there again.
    assert.deepEqual((await plugins()).map((p) => p.id).sort(), ['busy', 'emitter', 'exit', 'provision', 'rejection', 'throwinit', 'timer']);
    const log = readFileSync(join(apiDir, 'server.log'), 'utf8');
    assert.match(log, /sent no heartbeat for \d+ s \(watchdog\.stall_seconds is 2\): its event loop is held by drivers\.busy \(sky-driver-fault-busyloop@2\.3\.4\) in provision; killing it/);
    const stall = logLines().find((l) => l.level === 50 && l.plugin === 'busy' && l.kind === 'event-loop stall');
    assert.ok(stall, 'the restarted daemon logs the quarantine');
    assert.equal(stall.version, VERSION);
    assert.equal(stall.pid, next.pid);
    assert.match(log, /was killed by SIGKILL after \d+ s; restarting it with the same configuration in 1 s/);
    const r = await sky(['launch', '--infra', 'busy', '-y', 'echo hi']);
    assert.match(r.stderr, /its plugin sky-driver-fault-busyloop@2\.3\.4 is quarantined/);
    first = next;
  });

  it('a daemon killed outright is restarted by the supervisor with the same config', async () => {
    process.kill(first.pid, 'SIGKILL');
    const next = await restartedFrom(first);
    assert.equal(next.supervisor, first.supervisor);
    assert.equal(next.url, url);
    assert.equal((await plugins()).length, 7);
    first = next;
  });

  it('sky daemon stop stops the daemon and its supervisor', async () => {
    const r = await sky(['daemon', 'stop']);
    assert.equal(r.code, 0, showRun(['daemon', 'stop'], r));
    assert.match(r.stdout, new RegExp(`\\(pid ${first.pid}\\) and its supervisor \\(pid ${first.supervisor}\\) stopped`));
    await waitFor(() => !alive(first.pid) && !alive(first.supervisor!), 10_000, 'both processes to exit');
    assert.ok(!existsSync(join(apiDir, 'supervisor.json')));
  });

  it("a command's auto-start starts the recorded configuration, never an unconfigured daemon", async () => {
    const endpoint = { ...(await parseEndpoint(url, 'test')), autoStart: true };
    const client = new SkyClient({ endpoint, identity: { id: 'abcd1234', name: 'tester' } });
    try {
      const ensured = await ensureDaemon(client, { daemonMain: DAEMON_MAIN, home, env: { ...process.env, HOME: home } });
      assert.equal(ensured.started, true);
      const info = daemonJson();
      assert.equal(ensured.health.pid, info.pid);
      assert.ok(info.supervisor !== undefined && alive(info.supervisor), 'started under a supervisor');
      useLocalToken(url, home);
      assert.equal((await plugins()).length, 7, 'with the configured plugins');
      const stop = await sky(['daemon', 'stop']);
      assert.equal(stop.code, 0, showRun(['daemon', 'stop'], stop));
      await waitFor(() => !alive(info.pid) && !alive(info.supervisor!), 10_000, 'both processes to exit');

      // Recorded with --foreground (systemd, Kubernetes): a command never starts it in its place.
      const recordFile = join(apiDir, 'daemon-start.json');
      const record = JSON.parse(readFileSync(recordFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(recordFile, JSON.stringify({ ...record, mode: 'foreground' }));
      await assert.rejects(ensureDaemon(client, { daemonMain: DAEMON_MAIN, home, env: { ...process.env, HOME: home } }), (err: Error & { code?: string; hint?: string }) => {
        assert.equal(err.code, 'SERVER_START_FAILED');
        assert.match(err.message, /runs in the foreground \(sky daemon start --foreground --config .*daemon\.yaml\)/);
        assert.match(err.hint ?? '', /systemctl start sky/);
        return true;
      });
      // Its config file gone: refused, saying how to start it.
      writeFileSync(recordFile, JSON.stringify({ ...record, config: join(home, 'gone.yaml'), args: ['--config', join(home, 'gone.yaml')] }));
      await assert.rejects(ensureDaemon(client, { daemonMain: DAEMON_MAIN, home, env: { ...process.env, HOME: home } }), /gone\.yaml, which no longer exists/);
      assert.equal(await healthPid(), undefined, 'nothing was started');
    } finally {
      client.close();
    }
  });
});
