import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { killAllDaemons, removeHome, REPO_ROOT, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { startTeamDaemon, TEAM_ADMIN, type TeamDaemonHandle } from '../helpers/team.js';
import { hasOpenssl, makeTestPki, type TestPki } from '../helpers/test-pki.js';

// The Python client (clients/python) and the Airflow operators (examples/airflow) are tested by
// their own unittest suites; this runs them against real daemons: a personal one with the local
// driver (clusters, jobs, managed jobs), a team one with basic auth (credentials, config file),
// and one serving HTTPS with a throwaway CA (api_server.ca_file).

// Debian's python3, which the client promises to run on; another python3 only where it is absent.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

let local: DaemonHandle;
let team: TeamDaemonHandle;
let tls: DaemonHandle | undefined;
let pki: TestPki | undefined;

function unittest(dir: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', 'unittest', 'discover', '-v', '-s', dir], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('python client and airflow operators against real daemons', () => {
  let env: Record<string, string>;

  before(async () => {
    // The local driver runs jobs in the daemon's home; managed jobs are reconciled every second.
    const home = tempHome();
    local = await startDaemon({
      home,
      config: `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 16\n    memory_gb: 32\n` + `jobs:\n  reconcile_seconds: 1\nmanaged_jobs:\n  retry_seconds: 1\n`,
    });
    team = await startTeamDaemon([]);
    env = {
      // As the CLI finds its personal daemon: the endpoint, and the local token in $HOME/.sky.
      HOME: local.home,
      SKYPILOT_API_SERVER_ENDPOINT: local.url,
      SKY_TEST_LOCAL_URL: local.url,
      SKY_TEST_TEAM_URL: team.url,
      SKY_TEST_TEAM_USER: TEAM_ADMIN.name,
      SKY_TEST_TEAM_PASSWORD: TEAM_ADMIN.password,
    };
    if (await hasOpenssl()) {
      pki = await makeTestPki();
      tls = await startDaemon({
        config: `listen:\n  tls:\n    cert: ${pki.server.cert}\n    key: ${pki.server.key}\nauth:\n  mode: basic\n`,
        env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
        tlsCa: pki.ca,
      });
      Object.assign(env, { SKY_TEST_TLS_URL: tls.url, SKY_TEST_TLS_CA: pki.ca, SKY_TEST_TLS_OTHER_CA: pki.otherCa });
    }
  });

  after(async () => {
    await tls?.stop();
    await pki?.destroy();
    await team?.stop();
    await local?.stop();
    await killAllDaemons();
    if (local !== undefined) removeHome(local.home);
    if (team !== undefined) removeHome(team.home);
    if (tls !== undefined) removeHome(tls.home);
  });

  it('passes the client suite (clusters, jobs, requests, errors, config resolution, offline venv install)', async () => {
    const { code, output } = await unittest('clients/python/tests', env);
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /skipped '(no personal daemon|no team daemon)/, output);
    if (tls !== undefined) assert.doesNotMatch(output, /skipped 'no HTTPS daemon/, output);
  });

  it('passes the airflow operator suite', async () => {
    const { code, output } = await unittest('examples/airflow/tests', env);
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /skipped 'no personal daemon/, output);
  });
});
