import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, SKY_BIN, freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { privateLoopback, type PrivateLoopback } from '../helpers/private-loopback.js';
import { hasOpenssl, makeTestPki, type TestPki } from '../helpers/test-pki.js';
import { TEAM_ADMIN } from '../helpers/team.js';

/*
 * An outsider on the network path must not read passwords or tokens: the daemon serves HTTPS
 * itself (listen.tls), the client verifies it (a CA bundle, else the system CAs) and says what
 * is wrong with a certificate it refuses, and basic/token auth on a non-loopback plain-HTTP
 * listener is refused unless the operator declares otherwise. Certificates are made with
 * openssl at test time.
 */

const run = promisify(execFile);
let pki: TestPki;
const homes: string[] = [];
const daemons: DaemonHandle[] = [];
const nets: PrivateLoopback[] = [];

before(async () => {
  if (!(await hasOpenssl())) assert.fail('openssl is needed for the TLS tests (scripts/ci-setup.sh installs it)');
  pki = await makeTestPki();
});

after(async () => {
  for (const d of daemons) {
    await d.stop();
    removeHome(d.home);
  }
  await killAllDaemons();
  for (const net of nets) await net.destroy();
  for (const home of homes) removeHome(home);
  await pki?.destroy();
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The sky CLI in `home`, with the given environment on top of this one's. */
function sky(home: string, args: readonly string[], env: Record<string, string> = {}): Promise<Result> {
  const full: NodeJS.ProcessEnv = { ...process.env, HOME: home, ...env };
  for (const key of ['SKYPILOT_API_SERVER_ENDPOINT', 'SKYPILOT_API_SERVER_CA', 'SKYPILOT_API_SERVER_TOKEN']) if (!(key in env)) delete full[key];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SKY_BIN, ...args], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A basic-auth daemon serving HTTPS with `cert`, its first admin from the environment. */
async function tlsDaemon(cert: { cert: string; key: string }, extra = ''): Promise<DaemonHandle> {
  const d = await startDaemon({
    config: `listen:\n  tls:\n    cert: ${cert.cert}\n    key: ${cert.key}\n${extra}auth:\n  mode: basic\n`,
    env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
    tlsCa: pki.ca,
  });
  daemons.push(d);
  return d;
}

function withCredentials(url: string): string {
  return url.replace('https://', `https://${TEAM_ADMIN.name}:${TEAM_ADMIN.password}@`);
}

function daemonStart(args: readonly string[], home: string, env: Record<string, string> = {}): Promise<Result> {
  return run(process.execPath, [DAEMON_MAIN, '--port', '0', ...args], { env: { ...process.env, HOME: home, ...env }, timeout: 20_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? null, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
  );
}

describe('HTTPS served by the daemon, verified by the client', () => {
  let d: DaemonHandle;
  let home: string;

  before(async () => {
    d = await tlsDaemon(pki.server);
    home = tempHome();
    homes.push(home);
  });

  it('the CLI talks to it with the team CA from $SKYPILOT_API_SERVER_CA, and daemon.json pins the certificate', async () => {
    const r = await sky(home, ['api', 'info'], { SKYPILOT_API_SERVER_ENDPOINT: withCredentials(d.url), SKYPILOT_API_SERVER_CA: pki.ca });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Using SkyPilot API server: ${d.url} `));
    assert.match(r.stdout, /└── User: admin /);
    const info = JSON.parse(readFileSync(join(d.home, '.sky/api_server/daemon.json'), 'utf8')) as { url: string; tlsFingerprint256: string };
    assert.equal(info.url, `https://127.0.0.1:${d.port}`);
    const fingerprint = (await run('openssl', ['x509', '-in', pki.server.cert, '-noout', '-fingerprint', '-sha256'])).stdout.trim().split('=')[1];
    assert.equal(info.tlsFingerprint256, fingerprint);
  });

  it('streams a request log over HTTPS', async () => {
    const r = await sky(home, ['api', 'ping', '--sleep', '1'], { SKYPILOT_API_SERVER_ENDPOINT: withCredentials(d.url), SKYPILOT_API_SERVER_CA: pki.ca });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ping: sleeping 1s\nping: 1s elapsed\npong\npong from the API server/);
  });

  it('sky api login --ca-file checks the server with that CA, then saves it as api_server.ca_file', async () => {
    const own = tempHome();
    homes.push(own);
    const login = await sky(own, ['api', 'login', '-e', withCredentials(d.url), '--ca-file', pki.ca]);
    assert.equal(login.code, 0, login.stderr);
    assert.ok(!login.stdout.includes(TEAM_ADMIN.password) && !login.stderr.includes(TEAM_ADMIN.password));
    assert.match(readFileSync(join(own, '.sky/config.yaml'), 'utf8'), new RegExp(`ca_file: ${pki.ca}`));
    const info = await sky(own, ['api', 'info']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /└── User: admin /);
  });

  it('refuses a certificate from an unknown CA (no CA configured, or another one), saying which and how to fix it', async () => {
    const none = await sky(home, ['api', 'info'], { SKYPILOT_API_SERVER_ENDPOINT: withCredentials(d.url) });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^sky: the API server at https:\/\/localhost:\d+ presented a certificate signed by an unknown CA \(issued by CN=sky-test-ca\): it is not trusted by the system CAs\n/);
    assert.match(none.stderr, /hint: Point api_server\.ca_file in ~\/\.sky\/config\.yaml \(or \$SKYPILOT_API_SERVER_CA\)/);
    const other = await sky(home, ['api', 'info'], { SKYPILOT_API_SERVER_ENDPOINT: withCredentials(d.url), SKYPILOT_API_SERVER_CA: pki.otherCa });
    assert.equal(other.code, 1);
    assert.ok(other.stderr.includes(`it is not trusted by the CA bundle ${pki.otherCa} ($SKYPILOT_API_SERVER_CA)`), other.stderr);
    for (const r of [none, other]) assert.ok(!r.stderr.includes(TEAM_ADMIN.password), 'the password is never printed');
  });

  it('says so when the CA bundle cannot be read', async () => {
    const r = await sky(home, ['api', 'info'], { SKYPILOT_API_SERVER_ENDPOINT: d.url, SKYPILOT_API_SERVER_CA: join(home, 'missing.pem') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^sky: \$SKYPILOT_API_SERVER_CA: cannot read the CA bundle \S+missing\.pem: no such file\n/);
  });

  it('answers a plain-HTTP request on the HTTPS port with 400 HTTPS_REQUIRED, and the CLI says to use https://', async () => {
    const plain = d.url.replace('https://localhost', 'http://127.0.0.1');
    const res = await http(`${plain}/api/health`);
    assert.equal(res.status, 400);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'HTTPS_REQUIRED');
    const r = await sky(home, ['api', 'info'], { SKYPILOT_API_SERVER_ENDPOINT: plain });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /speaks HTTPS only.*\n {2}hint: Use an https:\/\/ endpoint URL/);
    assert.equal(d.child.exitCode, null, 'the daemon is still running');
  });
});

describe('certificates the client refuses', () => {
  it('a certificate for another name: says which names it is for', async () => {
    const home = tempHome();
    homes.push(home);
    const port = await freePort();
    const server = spawn(process.execPath, [DAEMON_MAIN, '--port', String(port), '--tls-cert', pki.otherName.cert, '--tls-key', pki.otherName.key], {
      env: { ...process.env, HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.setEncoding('utf8').on('data', (text: string) => text.includes('listening') && resolve());
        server.once('exit', (code) => reject(new Error(`daemon exited ${code}`)));
      });
      const r = await sky(home, ['api', 'info'], { SKYPILOT_API_SERVER_ENDPOINT: `https://localhost:${port}`, SKYPILOT_API_SERVER_CA: pki.ca });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^sky: the API server's certificate is for DNS:sky\.test, not for localhost\n/);
      assert.match(r.stderr, /hint: Use a host name the certificate names/);
      // The local daemon is still managed: daemon.json pins its certificate, so no CA or name is needed.
      const status = await sky(home, ['daemon', 'status']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^API server: running \(pid \d+\), healthy$/m);
      // Another certificate at the recorded URL is not that daemon: it is not signalled.
      const file = join(home, '.sky/api_server/daemon.json');
      const recorded = readFileSync(file, 'utf8');
      writeFileSync(file, recorded.replace(/"tlsFingerprint256":"[^"]+"/, `"tlsFingerprint256":"${'00:'.repeat(31)}00"`));
      const refused = await sky(home, ['daemon', 'stop']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^Not stopping pid \d+: .*presented another certificate than the one the local daemon recorded in daemon\.json/);
      assert.equal(server.exitCode, null);
      writeFileSync(file, recorded);
      const stop = await sky(home, ['daemon', 'stop']);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, new RegExp(`API server at https://127\\.0\\.0\\.1:${port} \\(pid ${server.pid}\\) stopped\\.`));
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('an expired certificate: the daemon warns at start, the client says when it expired', async () => {
    const home = tempHome();
    homes.push(home);
    const port = await freePort();
    const server = spawn(process.execPath, [DAEMON_MAIN, '--port', String(port), '--tls-cert', pki.expired.cert, '--tls-key', pki.expired.key], {
      env: { ...process.env, HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.setEncoding('utf8').on('data', (text: string) => text.includes('listening') && resolve());
        server.once('exit', (code) => reject(new Error(`daemon exited ${code}`)));
      });
      assert.match(readFileSync(join(home, '.sky/api_server/server.log'), 'utf8'), /the TLS certificate has EXPIRED/);
      const r = await sky(home, ['api', 'info'], { SKYPILOT_API_SERVER_ENDPOINT: `https://localhost:${port}`, SKYPILOT_API_SERVER_CA: pki.ca });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^sky: the API server's certificate at https:\/\/localhost:\d+ expired on Jan {2}2 00:00:00 2020 GMT\n/);
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('an https:// URL for a plain-HTTP server: says it does not speak TLS', async () => {
    const d = await startDaemon();
    daemons.push(d);
    const r = await sky(d.home, ['api', 'info'], { SKYPILOT_API_SERVER_ENDPOINT: d.url.replace('http://', 'https://') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^sky: the server at https:\/\/127\.0\.0\.1:\d+ does not speak TLS\n {2}hint: If it serves plain HTTP, use http:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('listen.tls mistakes stop the daemon at start, naming the key and the file', () => {
  let encryptedKey: string;
  before(async () => {
    encryptedKey = join(pki.dir, 'encrypted.key');
    await run('openssl', ['pkey', '-in', pki.server.key, '-aes256', '-passout', 'pass:secret', '-out', encryptedKey]);
    writeFileSync(join(pki.dir, 'garbage.pem'), 'not a certificate\n');
  });
  const cases: Array<[string, () => string[], RegExp]> = [
    ['a missing certificate', () => ['--tls-cert', join(pki.dir, 'nope.pem'), '--tls-key', pki.server.key], /listen\.tls\.cert: cannot read \S+nope\.pem: no such file/],
    ['a certificate file without a certificate', () => ['--tls-cert', join(pki.dir, 'garbage.pem'), '--tls-key', pki.server.key], /listen\.tls\.cert: \S+garbage\.pem does not hold a PEM certificate/],
    ['a key of another certificate', () => ['--tls-cert', pki.server.cert, '--tls-key', pki.otherName.key], /listen\.tls\.key: \S+sky\.test\.key is not the private key of the certificate in \S+localhost\.pem/],
    ['an encrypted key', () => ['--tls-cert', pki.server.cert, '--tls-key', encryptedKey], /listen\.tls\.key: \S+encrypted\.key is encrypted with a passphrase/],
    ['a directory as the key', () => ['--tls-cert', pki.server.cert, '--tls-key', pki.dir], /listen\.tls\.key: cannot read \S+: it is a directory/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const home = tempHome();
      homes.push(home);
      const r = await daemonStart(args(), home);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /hint: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(existsSync(join(home, '.sky/api_server/daemon.json')), false);
    });
  }

  it('--tls-cert without --tls-key is a usage error', async () => {
    const home = tempHome();
    homes.push(home);
    const r = await daemonStart(['--tls-cert', pki.server.cert], home);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--tls-cert and --tls-key go together/);
  });
});

describe('credentials over plain HTTP on a non-loopback address', () => {
  const admin = { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password };

  for (const mode of ['basic', 'token']) {
    it(`auth ${mode} on 0.0.0.0 without TLS is refused at start`, async () => {
      const home = tempHome();
      homes.push(home);
      const r = await daemonStart(['--host', '0.0.0.0', '--auth', mode], home, admin);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`refusing to accept ${mode === 'basic' ? 'passwords' : 'tokens'} over plain HTTP on 0\\.0\\.0\\.0: they would travel in the clear`));
      assert.match(r.stderr, /hint: Serve HTTPS \(listen\.tls.*listen\.tls_terminated_by_proxy: true.*listen\.allow_insecure_basic_auth: true/);
    });
  }

  /** Start a daemon on 0.0.0.0 inside a network namespace of its own (reachable from nowhere else), wait until it listens, stop it; its log. */
  async function startsOnWildcard(t: { skip: (why: string) => void }, config: string): Promise<string | undefined> {
    const net = await privateLoopback();
    if (net === undefined) {
      t.skip('needs root and ip netns to listen on 0.0.0.0 where nothing else can reach it');
      return undefined;
    }
    nets.push(net);
    const home = tempHome();
    homes.push(home);
    writeFileSync(join(home, 'daemon.yaml'), config);
    const argv = net.wrap(process.execPath, [DAEMON_MAIN, '--host', '0.0.0.0', '--port', '0', '--auth', 'basic', '--config', join(home, 'daemon.yaml')]);
    const child = spawn(argv.command, argv.args, { env: { ...process.env, HOME: home, ...admin }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (text: string) => text.includes('listening') && resolve());
        child.once('exit', (code) => reject(new Error(`daemon exited ${code}: ${stderr}`)));
      });
    } finally {
      child.kill('SIGTERM');
    }
    return readFileSync(join(home, '.sky/api_server/server.log'), 'utf8');
  }

  it('starts behind a declared TLS-terminating proxy, warning at start', async (t) => {
    const log = await startsOnWildcard(t, 'listen:\n  tls_terminated_by_proxy: true\n');
    if (log === undefined) return;
    assert.match(log, /"level":40,.*because listen\.tls_terminated_by_proxy is set/);
  });

  it('starts with the insecure switch, warning loudly at start', async (t) => {
    const log = await startsOnWildcard(t, 'listen:\n  allow_insecure_basic_auth: true\n');
    if (log === undefined) return;
    assert.match(log, /"level":40,.*PASSWORDS AND TOKENS TRAVEL IN THE CLEAR/);
  });

  it('starts with TLS, without a warning', async (t) => {
    const log = await startsOnWildcard(t, `listen:\n  tls:\n    cert: ${pki.server.cert}\n    key: ${pki.server.key}\n`);
    if (log === undefined) return;
    assert.doesNotMatch(log, /IN THE CLEAR|tls_terminated_by_proxy/);
    assert.match(log, /"url":"https:\/\/0\.0\.0\.0:\d+"/);
  });
});
