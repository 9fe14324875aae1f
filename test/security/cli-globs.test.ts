import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { killAllDaemons, removeHome, tempHome } from '../helpers/daemon-process.js';
import { startTeamDaemon, type TeamDaemonHandle } from '../helpers/team.js';
import { runSky, type CliResult } from '../helpers/sky-cli.js';

/*
 * Cluster-name globs on a team daemon, as a plain member who tries them on other people's
 * clusters: a glob is matched against the caller's own clusters only, so bob's `sky down 'dev-*'`
 * tears down his dev cluster and never alice's, and a glob that matches only hers is an error.
 */

type Result = CliResult;

let daemon: TeamDaemonHandle;
const homes: string[] = [];

function sky(user: string, args: readonly string[]): Promise<Result> {
  const home = tempHome();
  homes.push(home);
  return runSky(args, { home, endpoint: daemon.url.replace('http://', `http://${user}:${user}-password@`) });
}

async function exits(user: string, args: readonly string[], code: number): Promise<Result> {
  const r = await sky(user, args);
  assert.equal(r.code, code, `${user}: sky ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`);
  return r;
}

const names = (stdout: string): string[] => stdout.split('\n').flatMap((l) => (/^dev-\S+/.exec(l)?.[0] !== undefined ? [/^dev-\S+/.exec(l)![0]] : []));

before(async () => {
  daemon = await startTeamDaemon(['alice', 'bob']);
});

after(async () => {
  await daemon?.stop();
  await killAllDaemons();
  if (daemon) removeHome(daemon.home);
  for (const home of homes) removeHome(home);
});

describe('sky show-gpus without the ssh driver', () => {
  it("lists the local driver's GPUs (this daemon has no ssh driver and no pools file)", async () => {
    const r = await exits('bob', ['show-gpus'], 0);
    assert.match(r.stdout, /^local: /m);
    assert.doesNotMatch(r.stdout + r.stderr, /not enabled|SSH Node Pool/);
  });
});

describe("a member's glob never reaches another member's clusters", () => {
  it('setup: alice has dev-alice, bob has dev-bob', async () => {
    await exits('alice', ['launch', '-y', '-c', 'dev-alice', '--cpus', '1'], 0);
    await exits('bob', ['launch', '-y', '-c', 'dev-bob', '--cpus', '1'], 0);
  });

  it("bob's sky status 'dev-*' lists only his; a glob matching only alice's cluster is an error naming it", async () => {
    assert.deepEqual(names((await exits('bob', ['status', 'dev-*'], 0)).stdout), ['dev-bob']);
    const r = await exits('bob', ['status', 'dev-a*'], 1);
    assert.match(r.stderr, /no cluster of yours matches 'dev-a\*'/);
    assert.doesNotMatch(r.stdout + r.stderr, /dev-alice/);
  });

  it("bob's sky stop/down with a glob matching only alice's cluster is refused and changes nothing", async () => {
    assert.match((await exits('bob', ['stop', '-y', 'dev-al?ce'], 1)).stderr, /no cluster of yours matches 'dev-al\?ce'/);
    assert.match((await exits('bob', ['down', '-y', 'dev-[a]*'], 1)).stderr, /no cluster of yours matches 'dev-\[a\]\*'/);
    const st = await exits('alice', ['status'], 0);
    assert.match(st.stdout, /^dev-alice\s.*\bUP\b/m);
  });

  it("bob's sky down 'dev-*' -y tears down dev-bob only; alice's cluster stays UP", async () => {
    const r = await exits('bob', ['down', '-y', 'dev-*'], 0);
    assert.match(r.stdout, /Terminating cluster dev-bob\.\.\.done\./);
    assert.doesNotMatch(r.stdout + r.stderr, /dev-alice/);
    assert.deepEqual(names((await exits('bob', ['status'], 0)).stdout), []);
    assert.match((await exits('alice', ['status'], 0)).stdout, /^dev-alice\s.*\bUP\b/m);
    await exits('alice', ['down', '-y', 'dev-*'], 0);
  });
});
