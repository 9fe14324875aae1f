import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { http, killAllDaemons, removeHome, SKY_BIN, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

// Finding (low): everyone saw the others' first command line (cluster lastCommand, job command,
// request bodies) in status -u, queue -u and api status -u.

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;
const SECRET = 'cl-only-alice-knows';

before(async () => {
  d = await startTeamDaemon([]);
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('cl-alice');
  bob = await api.createUser('cl-bob');
  // A job whose name is its command (the name goes with it), then one with a plain command.
  await api.must(alice, 'launch', { cluster: 'cl-c', task: { name: SECRET, run: SECRET } });
  await api.must(alice, 'exec', { cluster: 'cl-c', task: { run: `echo ${SECRET} again` } });
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

function cli(who: Account, args: string[]): string {
  const home = tempHome();
  try {
    const out = spawnSync(process.execPath, ['--', SKY_BIN, ...args], {
      env: { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: d.url.replace('http://', `http://${who.name}:${who.password}@`) },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(out.status, 0, out.stderr);
    return out.stdout;
  } finally {
    removeHome(home);
  }
}

describe('command lines are for their owner and admins', () => {
  it('another user sees the cluster, its jobs and requests in -u views without any command line', async () => {
    for (const path of ['/api/v1/clusters?all_users=true', '/api/v1/clusters?all_users=true&summary=true', '/api/v1/clusters/cl-c', '/api/v1/clusters/cl-c/jobs?all_users=true', '/api/v1/requests?all_users=true']) {
      const res = await api.json(bob, path);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.text.includes(path.includes('requests') ? 'cl-alice' : 'cl-c'), `${path} lists alice's things`);
      assert.ok(!res.text.includes(SECRET), `${path} shows alice's command line to bob: ${res.text.slice(0, 400)}`);
    }
    for (const args of [['status', '-u'], ['queue', '-u'], ['api', 'status', '-u', '-a']]) assert.doesNotMatch(cli(bob, args), new RegExp(SECRET), `sky ${args.join(' ')}`);
  });

  it('the owner and an admin see them', async () => {
    for (const who of [alice, api.admin]) {
      const cluster = await api.json<{ lastCommand?: string }>(who, '/api/v1/clusters/cl-c');
      assert.match(cluster.body.lastCommand ?? '', new RegExp(SECRET));
      const jobs = await api.json<{ items: Array<{ command?: string }> }>(who, '/api/v1/clusters/cl-c/jobs?all_users=true');
      assert.ok(jobs.body.items.every((j) => j.command?.includes(SECRET)), JSON.stringify(jobs.body));
    }
    assert.match(cli(alice, ['status', '-u']), new RegExp(`echo ${SECRET}`.slice(0, 20)));
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
  });
});
