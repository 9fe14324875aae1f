import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RequestRecord } from '@sky/protocol';
import { REPO_ROOT, SKY_BIN, freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle, type HttpAnswer } from '../helpers/daemon-process.js';
import { parse } from 'yaml';
import { loadDaemonConfig } from '../../core/daemon/src/config/load.js';
import { kubeBinaries, startKubeControlPlane, type KubeControlPlane } from '../helpers/kube/index.js';
import { alive, waitFor } from '../helpers/processes.js';
import { runSky, showRun } from '../helpers/sky-cli.js';
import { basicAuth } from '../helpers/team.js';
import { dropSchema, testDatabaseUrl, testSchemaName } from '../integration/store-postgres-fixture.js';

// The deployment recipe of examples/deploy, as shipped: nginx in front of two replicas on one
// PostgreSQL, the systemd unit (systemd-analyze verify, systemd itself is never started) and the
// Kubernetes manifests (kubectl apply --dry-run=server against a real API server).

const RECIPE = join(REPO_ROOT, 'examples/deploy');
const CI = process.env.CI === 'true';
const ADMIN = { name: 'admin', password: 'deploy-recipe-password' };

/** The first of `paths` that exists as an executable on PATH or as given; undefined when none does. */
function tool(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name} || { [ -x /usr/sbin/${name} ] && echo /usr/sbin/${name}; }`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return path === '' ? undefined : path;
}

/** Skip outside CI when a tool of the recipe is missing (scripts/ci-setup.sh installs it); fail under CI. */
function needTool(name: string, pkg: string): { path?: string; skip: string | false } {
  const path = tool(name);
  if (path !== undefined) return { path, skip: false };
  if (CI) throw new Error(`${name} is missing (CI=true never skips): run scripts/ci-setup.sh (Debian package ${pkg})`);
  return { skip: `${name} is missing: run scripts/ci-setup.sh (Debian package ${pkg})` };
}

/** `text` with `from` replaced by `to`, which must occur exactly once (the recipe changed otherwise). */
function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  assert.equal(parts.length, 2, `the recipe should hold "${from}" exactly once`);
  return parts.join(to);
}

const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

describe('systemd unit of the recipe', () => {
  const analyze = needTool('systemd-analyze', 'systemd');
  it('passes systemd-analyze verify without a warning, and the check notices a broken unit', { skip: analyze.skip }, () => {
    const dir = tempDir('sky-unit-');
    const unit = readFileSync(join(RECIPE, 'systemd/sky-daemon@.service'), 'utf8');
    assert.match(unit, /^RestartPreventExitStatus=78$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^User=sky$/m);
    assert.match(unit, /^EnvironmentFile=\/etc\/sky\/sky\.env$/m);
    assert.match(unit, /^ExecStart=\/usr\/bin\/sky daemon start --foreground --config \/etc\/sky\/%i\.yaml$/m);
    // verify checks that ExecStart's program exists: point it at this checkout's sky.
    const here = replaceOnce(unit, 'ExecStart=/usr/bin/sky ', `ExecStart=${SKY_BIN} `);
    const file = join(dir, 'sky-daemon@sky-a.service');
    writeFileSync(file, here);
    const run = spawnSync(analyze.path!, ['verify', '--man=no', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.equal(run.stderr.trim(), '', 'no warning at all');

    writeFileSync(file, here.replace('NoNewPrivileges=true', 'NoNewPrivilege=true'));
    const broken = spawnSync(analyze.path!, ['verify', '--man=no', file], { encoding: 'utf8', timeout: 60_000 });
    assert.match(broken.stderr, /Unknown key 'NoNewPrivilege'/, 'a misspelt key is reported');
  });
});

describe('Kubernetes manifests of the recipe', () => {
  const bins = kubeBinaries();
  const kubectl = needTool('kubectl', 'kubernetes-client');
  let cp: KubeControlPlane | undefined;
  after(async () => {
    await cp?.stop();
  });

  it('hold a daemon config the daemon accepts', () => {
    const map = parse(readFileSync(join(RECIPE, 'kubernetes/configmap.yaml'), 'utf8')) as { data: Record<string, string> };
    const dir = tempDir('sky-configmap-');
    const file = join(dir, 'sky.yaml');
    writeFileSync(file, map.data['sky.yaml'] ?? '');
    // The pod's SKY_DB_URL (from the Secret) names the database.
    const before = process.env.SKY_DB_URL;
    process.env.SKY_DB_URL = 'postgres://sky:secret@postgres.sky.svc:5432/sky';
    let config: ReturnType<typeof loadDaemonConfig>;
    try {
      config = loadDaemonConfig({ configFile: file, userConfigFile: join(dir, 'no-user-config.yaml') });
    } finally {
      if (before === undefined) delete process.env.SKY_DB_URL;
      else process.env.SKY_DB_URL = before;
    }
    assert.deepEqual(
      { host: config.listen.host, port: config.listen.port, auth: config.auth.mode, store: config.store.kind, behindTls: config.listen.tls_terminated_by_proxy },
      { host: '0.0.0.0', port: 46580, auth: 'basic', store: 'postgres', behindTls: true },
    );
    const deployment = readFileSync(join(RECIPE, 'kubernetes/deployment.yaml'), 'utf8');
    assert.match(deployment, /containerPort: 46580/);
    assert.match(deployment, /path: \/api\/health\/ready/);
  });

  it('are accepted by kubectl apply --dry-run=server against a real API server, and create nothing', { skip: bins.skip ?? kubectl.skip, timeout: 300_000 }, async () => {
    cp = await startKubeControlPlane(bins.binDir ? { binDir: bins.binDir } : {});
    const dir = tempDir('sky-kubectl-');
    const config = join(dir, 'kubeconfig');
    cp.kubeconfig(config, { contexts: [{ name: 'admin', user: 'admin' }] });
    const manifests = join(RECIPE, 'kubernetes');
    const apply = (file: string): { status: number | null; out: string } => {
      const run = spawnSync(kubectl.path!, ['--kubeconfig', config, 'apply', '--dry-run=server', '-f', file], { encoding: 'utf8', timeout: 120_000 });
      return { status: run.status, out: `${run.stdout}${run.stderr}` };
    };

    const ns = apply(join(manifests, 'namespace.yaml'));
    assert.equal(ns.status, 0, ns.out);
    assert.match(ns.out, /namespace\/sky created \(server dry run\)/);
    assert.equal(await cp.api.find('/api/v1/namespaces/sky'), undefined, 'a dry run creates nothing');

    // The namespaced objects need their namespace to exist on the server, as on a real cluster
    // (the README applies namespace.yaml first).
    await cp.createNamespace('sky');
    const all = apply(manifests);
    assert.equal(all.status, 0, all.out);
    for (const object of ['configmap/sky-daemon', 'deployment.apps/sky-daemon', 'secret/sky-daemon', 'service/sky-daemon']) {
      assert.match(all.out, new RegExp(`${object.replace('.', '\\.')} created \\(server dry run\\)`), all.out);
    }
    assert.equal(await cp.api.find('/apis/apps/v1/namespaces/sky/deployments/sky-daemon'), undefined);

    // The server really validates: a Deployment whose selector misses its pod labels is refused.
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(join(manifests, 'deployment.yaml'), 'utf8').replace(/(\n {6}labels:\n {8}app\.kubernetes\.io\/name:) sky-daemon/, '$1 other'));
    const refused = apply(bad);
    assert.notEqual(refused.status, 0, refused.out);
    assert.match(refused.out, /selector/);
  });
});

interface Nginx {
  child: ChildProcess;
  url: string;
  errors: () => string;
  stop(): Promise<void>;
}

/** Start Debian's nginx in the foreground with the recipe's sky.conf, on `port`, in front of `replicaPorts`. */
async function startNginx(binary: string, port: number, replicaPorts: [number, number]): Promise<Nginx> {
  const dir = tempDir('sky-nginx-');
  let site = readFileSync(join(RECIPE, 'nginx/sky.conf'), 'utf8');
  site = replaceOnce(site, 'server 127.0.0.1:46581 ', `server 127.0.0.1:${replicaPorts[0]} `);
  site = replaceOnce(site, 'server 127.0.0.1:46582 ', `server 127.0.0.1:${replicaPorts[1]} `);
  site = replaceOnce(site, 'listen 80;', `listen 127.0.0.1:${port};`);
  writeFileSync(join(dir, 'sky.conf'), site);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      // The tests run as root: the workers too, so that they reach this private temp dir.
      'user root;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${dir}/access.log;`,
      ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((s) => `  ${s === 'body' ? 'client_body' : s}_temp_path ${dir}/${s};`),
      `  include ${dir}/sky.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  const check = spawnSync(binary, ['-t', '-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(check.status, 0, `nginx -t: ${check.stderr}`);
  const child = spawn(binary, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const errors = (): string => {
    let log = '';
    try {
      log = readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      log = '';
    }
    return `${stderr}${log}`;
  };
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${errors()}`);
      return (await http(`${url}/api/health`).catch(() => undefined)) !== undefined;
    },
    20_000,
    'nginx to listen',
  );
  return {
    child,
    url,
    errors,
    async stop() {
      const pid = child.pid;
      if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      // The master stops its workers before it exits.
      await waitFor(() => !alive(pid), 10_000, 'nginx to exit');
    },
  };
}

describe('two replicas behind nginx, as the recipe has them', () => {
  const nginxBinary = needTool('nginx', 'nginx');
  const homes: string[] = [];
  const daemons: DaemonHandle[] = [];
  const schemas: string[] = [];
  let nginx: Nginx | undefined;

  after(async () => {
    await nginx?.stop();
    await Promise.allSettled(daemons.map((d) => d.stop()));
    await killAllDaemons();
    await Promise.allSettled(schemas.map((s) => dropSchema(s)));
    for (const home of homes) removeHome(home);
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  const auth = basicAuth(ADMIN.name, ADMIN.password);
  const via = (path: string, options: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> =>
    http(`${nginx!.url}${path}`, { ...options, headers: { ...auth, ...options.headers } });

  /** Submit a ping through nginx; its request id. */
  async function submitPing(): Promise<string> {
    const res = await via('/api/v1/ping', { method: 'POST', body: '{}' });
    assert.ok(res.status === 200 || res.status === 202, `${res.status} ${res.text}`);
    return (res.json() as { requestId: string }).requestId;
  }

  /** Poll the request's record through nginx until it finished. */
  async function finished(id: string): Promise<RequestRecord> {
    let record: RequestRecord | undefined;
    await waitFor(
      async () => {
        const res = await via(`/api/v1/requests/${id}`);
        if (res.status !== 200) return false;
        record = res.json() as RequestRecord;
        return record.status === 'SUCCEEDED' || record.status === 'FAILED' || record.status === 'CANCELLED';
      },
      30_000,
      `request ${id} to finish`,
    );
    return record!;
  }

  let replicas: DaemonHandle[] = [];

  it('answers readiness, sky api info and requests through nginx, and the requests land on both replicas', { skip: nginxBinary.skip, timeout: 240_000 }, async () => {
    const dbUrl = await testDatabaseUrl();
    const schema = testSchemaName();
    schemas.push(schema);
    const shared = tempDir('sky-shared-');
    const ports: [number, number] = [await freePort(), await freePort()];
    const configs = ['a', 'b'].map((id, i) => {
      let config = readFileSync(join(RECIPE, `systemd/sky-${id}.yaml`), 'utf8');
      config = replaceOnce(config, `port: ${46581 + i}`, `port: ${ports[i]}`);
      config = replaceOnce(config, `state_dir: /var/lib/sky/sky-${id}`, `state_dir: ${join(shared, `sky-${id}`)}`);
      config = replaceOnce(config, 'schema: sky', `schema: ${schema}`);
      config = replaceOnce(config, 'key_file: /var/lib/sky/secrets.key', `key_file: ${join(shared, 'secrets.key')}`);
      return config;
    });
    // The environment file of the unit, with this machine's database.
    const env = { SKY_DB_URL: dbUrl, SKY_ADMIN_USERNAME: ADMIN.name, SKY_ADMIN_PASSWORD: ADMIN.password };
    // Both replicas start at once, as systemd starts them.
    replicas = await Promise.all(
      configs.map((config, i) => {
        const home = tempHome();
        homes.push(home);
        return startDaemon({ home, port: ports[i], config, env });
      }),
    );
    daemons.push(...replicas);
    nginx = await startNginx(nginxBinary.path!, await freePort(), ports);

    await waitFor(async () => (await via('/api/health/ready')).status === 200 && (await via('/api/health/ready')).status === 200, 60_000, 'both replicas ready through nginx');
    const seenReplicas = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const ready = await via('/api/health/ready');
      assert.equal(ready.status, 200, ready.text);
      seenReplicas.add((ready.json() as { replica: string }).replica);
    }
    assert.deepEqual([...seenReplicas].sort(), ['sky-a', 'sky-b'], 'nginx spreads the calls over both replicas');

    const home = tempHome();
    homes.push(home);
    const endpoint = `http://${ADMIN.name}:${ADMIN.password}@127.0.0.1:${new URL(nginx.url).port}`;
    const info = await runSky(['api', 'info'], { home, endpoint });
    assert.equal(info.code, 0, showRun(['api', 'info'], info));
    assert.match(info.stdout, /├── Status: healthy, /);
    assert.match(info.stdout, /├── Store: postgres /);
    assert.match(info.stdout, /├── Replica: sky-[ab]\n/);

    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await submitPing());
    const records = await Promise.all(ids.map((id) => finished(id)));
    assert.deepEqual(records.map((r) => r.status), ids.map(() => 'SUCCEEDED'));
    assert.deepEqual([...new Set(records.map((r) => r.replica))].sort(), ['sky-a', 'sky-b'], 'the requests ran on both replicas');
    assert.doesNotMatch(nginx.errors(), /\[(error|crit|alert|emerg)\]/);
  });

  it('keeps answering through the other replica when one is stopped', { skip: nginxBinary.skip, timeout: 120_000 }, async () => {
    assert.equal(replicas.length, 2, 'the replicas of the previous test');
    assert.equal(await replicas[0]!.stop(), 0, replicas[0]!.stderr());
    for (let i = 0; i < 6; i++) {
      const ready = await via('/api/health/ready');
      assert.equal(ready.status, 200, ready.text);
      assert.equal((ready.json() as { replica: string }).replica, 'sky-b');
    }
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await submitPing());
    for (const id of ids) {
      const record = await finished(id);
      assert.equal(record.status, 'SUCCEEDED');
      assert.equal(record.replica, 'sky-b');
    }
  });

  it('waits on a request through nginx whichever replica holds the long poll', { skip: nginxBinary.skip, timeout: 120_000 }, async () => {
    assert.equal(replicas.length, 2, 'the replicas of the first test');
    // Both replicas up again (sky-a was stopped by the previous test).
    const home = tempHome();
    homes.push(home);
    const a = await startDaemon({ home, port: replicas[0]!.port, config: readFileSync(join(replicas[0]!.home, 'daemon.yaml'), 'utf8'), env: { SKY_DB_URL: await testDatabaseUrl() } });
    daemons.push(a);
    await waitFor(async () => (await http(`${a.url}/api/health/ready`)).status === 200, 60_000, 'sky-a ready again');
    // Pings of 2 s submitted straight to sky-a, waited on through nginx: the long poll is held
    // while the ping runs, by whichever replica nginx picks (X-Sky-Replica names it).
    const answeredBy = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await http(`${a.url}/api/v1/ping`, { method: 'POST', body: '{"sleep": 2}', headers: auth });
      assert.equal(res.status, 202, res.text);
      const id = (res.json() as { requestId: string }).requestId;
      const waited = await via(`/api/v1/requests/${id}/wait?timeout=20`);
      assert.equal(waited.status, 200, waited.text);
      const record = waited.json() as RequestRecord;
      assert.equal(record.status, 'SUCCEEDED', waited.text);
      assert.equal(record.replica, 'sky-a');
      answeredBy.add(String(waited.headers['x-sky-replica']));
    }
    assert.ok(answeredBy.has('sky-b'), `a wait held by sky-b for a ping that ran on sky-a (answered by ${[...answeredBy].join(', ')})`);
  });
});
