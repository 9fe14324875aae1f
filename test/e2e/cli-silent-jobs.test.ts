import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runSky, type CliResult } from '../helpers/sky-cli.js';

/*
 * A job that prints nothing for longer than the client's inactivity timeout (45 s) keeps its
 * stream open on every driver: the daemon's heartbeats reach the CLI while the job is silent,
 * so `sky launch` prints the job's last line and exits 0. The local and the SSH launch run at
 * the same time, so the file costs about one minute.
 */

type Result = CliResult;

let set: TestHosts;
let daemon: DaemonHandle;

const sky = (args: readonly string[]): Promise<Result> => runSky(args, { home: daemon.home, endpoint: daemon.url });

before(async () => {
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
  set = await createHosts(1);
  daemon = await startDaemon({ config: sshDaemonConfig(set, { local: true }) });
});

after(async () => {
  await sky(['down', '-y', 'quiet-local']).catch(() => undefined);
  await sky(['down', '-y', 'quiet-ssh']).catch(() => undefined);
  await daemon?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (daemon) removeHome(daemon.home);
});

describe('a job silent for 60 s, followed by the CLI', { timeout: 240_000 }, () => {
  it('sky launch ends with exit 0 and prints the last line, on the local driver and on an SSH pool', async () => {
    const command = 'sleep 60; echo done';
    const [local, ssh] = await Promise.all([
      sky(['launch', '-y', '-c', 'quiet-local', '--infra', 'local', command]),
      sky(['launch', '-y', '-c', 'quiet-ssh', '--infra', 'ssh/pool-a', command]),
    ]);
    for (const [where, r] of [['local', local], ['ssh', ssh]] as const) {
      assert.equal(r.code, 0, `${where}: sky launch exited ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`);
      assert.equal(r.stdout, 'done\n', `${where}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /cannot reach API server|no answer in time/, where);
    }
  });
});
