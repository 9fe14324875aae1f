import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTES } from '@sky/protocol';
import { killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorOf, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

/*
 * `sky plugins install` runs npm on the daemon's machine, so on a team server it is the admins'
 * alone: a plain user is refused before anything runs, and the refusal is audited. An admin's
 * input is checked too: no option smuggled to npm, no git or http URL, no path that is not a
 * packed tarball the daemon can read.
 */

let d: DaemonHandle;
let api: TeamClient;
let admin: Account;
let mallory: Account;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'sky-plugin-install-'));
  const home = tempHome();
  d = await startDaemon({
    home,
    config: ['auth:', '  mode: basic', 'plugins:', `  install_dir: ${join(work, 'plugins')}`, '  global: false', 'drivers: {}', ''].join('\n'),
    env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password, npm_config_offline: 'true' },
  });
  admin = TEAM_ADMIN;
  api = new TeamClient(d.url, TEAM_ADMIN);
  mallory = await api.createUser('pi-mallory');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('plugin install: admins only, and only package names or tarballs', () => {
  it('a plain user is refused (403 FORBIDDEN), nothing is installed, and the refusal is audited', async () => {
    const since = Date.now() - 5;
    const tarball = join(work, 'sky-driver-evil-1.0.0.tgz');
    writeFileSync(tarball, 'not really a tarball');
    const answer = await api.call(mallory, ROUTES.installPlugins, { body: { packages: ['sky-driver-evil', tarball] } });
    assert.equal(answer.status, 403, answer.text);
    assert.equal(errorOf(answer.text).code, 'FORBIDDEN');
    assert.equal(existsSync(join(work, 'plugins')), false, 'the plugins directory was not even created');
    const audit = await api.auditOf(mallory.name, since);
    assert.ok(audit.some((e) => e.result === 'DENIED' && e.action === 'plugin.install'), JSON.stringify(audit));
  });

  it('an outsider gets 401', async () => {
    const answer = await api.call(undefined, ROUTES.installPlugins, { body: { packages: ['sky-driver-x'] } });
    assert.equal(answer.status, 401, answer.text);
  });

  for (const [spec, why] of [
    ['--registry=http://evil.example/', /starts with "-"/],
    ['git+https://evil.example/x.git', /URL or a protocol spec/],
    ['https://evil.example/x.tgz', /URL or a protocol spec/],
    ['file:/etc', /URL or a protocol spec/],
    ['npm:sky-driver-x@1', /URL or a protocol spec/],
    ['../../etc/passwd', /neither a package name nor an absolute tarball path|not a valid npm package name/],
    ['/etc/passwd', /not a packed tarball/],
    ['/tmp/../etc/x.tgz', /not a normalized absolute path/],
    ['Sky-Driver-X', /not a valid npm package name/],
    ['sky-driver-x@1.0.0 --foo', /version that is not a semver/],
    ['sky-driver-x\n--ignore-scripts=false', /control characters/],
  ] as const) {
    it(`an admin's ${JSON.stringify(spec)} is refused as input (VALIDATION_FAILED) before npm runs`, async () => {
      const answer = await api.call(admin, ROUTES.installPlugins, { body: { packages: [spec] } });
      assert.equal(answer.status, 400, answer.text);
      const error = errorOf(answer.text);
      assert.equal(error.code, 'VALIDATION_FAILED');
      assert.match(error.message, why);
    });
  }

  it('a tarball path that is missing, a directory or a symbolic link is refused, naming the reason', async () => {
    const dir = join(work, 'a-dir.tgz');
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(join(work, 'real.tgz'), 'x');
    symlinkSync(join(work, 'real.tgz'), join(work, 'link.tgz'));
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    for (const [path, why] of [
      [join(work, 'missing.tgz'), /does not exist on the daemon's machine/],
      [dir, /not a regular file/],
      [join(work, 'link.tgz'), /not a regular file/],
    ] as const) {
      const answer = await api.call(admin, ROUTES.installPlugins, { body: { packages: [path] } });
      assert.equal(answer.status, 400, answer.text);
      assert.match(errorOf(answer.text).message, why);
    }
  });

  it("npm's failure (an unknown package, offline) is PLUGIN_INSTALL_FAILED, audited as FAILED", async () => {
    const since = Date.now() - 5;
    const answer = await api.call(admin, ROUTES.installPlugins, { body: { packages: ['sky-driver-surely-not-published-x9'] } });
    assert.equal(answer.status, 502, answer.text);
    assert.equal(errorOf(answer.text).code, 'PLUGIN_INSTALL_FAILED');
    const audit = await api.auditOf(admin.name, since);
    assert.ok(audit.some((e) => e.action === 'plugin.install' && e.result === 'FAILED'), JSON.stringify(audit));
  });
});
