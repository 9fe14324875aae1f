// The first admin's password never reaches a process the daemon starts: SKY_ADMIN_* leave the
// daemon's environment at bootstrap (in every auth mode), and a password file readable by
// other accounts is refused.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { compose, Daemon, DaemonConfigSchema } from '@sky/daemon';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { http, killAllDaemons, removeHome, startDaemon, tempHome } from '../helpers/daemon-process.js';
import { basicAuth, runOperation } from '../helpers/team.js';
import { noPlugins } from '../helpers/in-process.js';

const HEADERS = { 'content-type': 'application/json' };
const homes: string[] = [];

after(async () => {
  await killAllDaemons();
  for (const home of homes) removeHome(home);
});

function home(): string {
  const h = tempHome();
  homes.push(h);
  return h;
}

describe('the first admin', () => {
  it('is created from SKY_ADMIN_*, which are gone from the environment afterwards (in-process daemon)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-bootstrap-'));
    process.env.SKY_ADMIN_USERNAME = 'first-admin';
    process.env.SKY_ADMIN_PASSWORD = 'first-admin-password';
    const store = new MemoryStateStore();
    const config = DaemonConfigSchema.parse({ state_dir: dir, listen: { port: 0 }, auth: { mode: 'basic' }, store: { kind: 'memory' }, drivers: {} });
    const daemon = compose({
      config,
      paths: { stateDir: dir, storePath: join(dir, 'state'), logFile: join(dir, 'server.log'), pidFile: join(dir, 'daemon.json') },
      logger: pino({ level: 'silent' }),
      store,
      plugins: noPlugins,
    }).resolve(Daemon);
    try {
      const listening = await daemon.start();
      for (const name of ['SKY_ADMIN_USERNAME', 'SKY_ADMIN_PASSWORD', 'SKY_ADMIN_PASSWORD_FILE']) assert.equal(process.env[name], undefined, `${name} left in process.env`);
      const child = spawnSync('/bin/sh', ['-c', 'env'], { encoding: 'utf8' });
      assert.doesNotMatch(child.stdout, /SKY_ADMIN_/, 'a process started afterwards inherits no SKY_ADMIN_* variable');
      const me = await http(`${listening.url}/api/v1/users/me`, { headers: basicAuth('first-admin', 'first-admin-password') });
      assert.equal(me.status, 200, me.text);
      assert.equal((me.json() as { role: string }).role, 'admin');
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never reaches a job: a job of a daemon started with SKY_ADMIN_* sees none of them', async () => {
    const h = home();
    const d = await startDaemon({
      home: h,
      config: `drivers:\n  local:\n    root: ${join(h, 'nodes')}\n    cpus: 2\n    memory_gb: 2\n`,
      env: { SKY_ADMIN_USERNAME: 'admin', SKY_ADMIN_PASSWORD: 'never-in-a-job-1', SKY_ADMIN_PASSWORD_FILE: '/nonexistent' },
    });
    try {
      const rec = await runOperation<{ status: string; result?: { jobId: number }; error?: unknown }>(
        d.url,
        'launch',
        { cluster: 'envcheck', task: { run: 'if env | grep -q "^SKY_ADMIN_"; then exit 7; fi' } },
        HEADERS,
      );
      assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
      let status = '';
      for (let end = Date.now() + 30_000; !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(status); ) {
        assert.ok(Date.now() < end, 'the job ends');
        await new Promise((r) => setTimeout(r, 100));
        const jobs = (await http(`${d.url}/api/v1/clusters/envcheck/jobs`, { headers: HEADERS })).json() as { items: Array<{ id: number; status: string }> };
        status = jobs.items.find((j) => j.id === rec.result!.jobId)?.status ?? '';
      }
      assert.equal(status, 'SUCCEEDED', 'the job found a SKY_ADMIN_* variable in its environment');
      assert.equal((await runOperation<{ status: string }>(d.url, 'down', { cluster: 'envcheck' }, HEADERS)).status, 'SUCCEEDED');
    } finally {
      await d.stop();
    }
  });

  it('takes its password from a file only the daemon account can read, and refuses a file others can read', async () => {
    const h = home();
    const file = join(h, 'admin-password');
    writeFileSync(file, 'from-a-private-file\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    await assert.rejects(startDaemon({ home: h, args: ['--auth', 'basic'], env: { SKY_ADMIN_USERNAME: 'admin', SKY_ADMIN_PASSWORD_FILE: file } }), (err: Error) => {
      assert.match(err.message, /SKY_ADMIN_PASSWORD_FILE: \S+ is accessible to other accounts \(mode 644\)/);
      assert.match(err.message, /chmod 600/);
      return true;
    });
    await assert.rejects(
      startDaemon({ home: h, args: ['--auth', 'basic'], env: { SKY_ADMIN_USERNAME: 'admin', SKY_ADMIN_PASSWORD: 'x-long-enough', SKY_ADMIN_PASSWORD_FILE: file } }),
      /both SKY_ADMIN_PASSWORD and SKY_ADMIN_PASSWORD_FILE are set/,
    );

    chmodSync(file, 0o600);
    const d = await startDaemon({ home: h, config: `auth:\n  mode: basic\n  admin:\n    username: admin\n    password_file: ${file}\n` });
    try {
      const me = await http(`${d.url}/api/v1/users/me`, { headers: basicAuth('admin', 'from-a-private-file') });
      assert.equal(me.status, 200, me.text);
      assert.equal((me.json() as { role: string }).role, 'admin');
    } finally {
      await d.stop();
    }
  });
});
