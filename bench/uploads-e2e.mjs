#!/usr/bin/env node
// Uploads end to end: a workdir of 200 small files plus one 50 MB file, sent by the built CLI
// to a basic-auth daemon (so it is uploaded, as to a remote team server) and synced to a local
// node. Measures, interleaved per round: the first launch (upload of everything + provisioning
// + sync), a repeated exec (nothing to send, nothing to rewrite), the SDK's upload alone (cold,
// into a fresh user's store, and warm), and rsync of the same tree (SkyPilot's mechanism) as the
// peer, first and repeated. Figures are medians over the rounds; nothing is asserted.
//
//   node bench/uploads-e2e.mjs [--json FILE] [--quick]
// Needs `npm run build` and root: on a basic-auth (team) daemon the local driver runs each user's
// jobs as their own OS account through sky-node-helper, which this bench starts (with accounts
// of a prefix of its own, removed at the end, their processes first). Only 127.0.0.1 is
// contacted; the daemon and the helper are stopped by pid at the end.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const ROUNDS = args.includes('--quick') ? 2 : 5;
const SMALL_FILES = 200;
const BIG_BYTES = 50 * 1000 * 1000;

const { SkyClient, parseEndpoint } = await import(join(ROOT, 'core/client/dist/index.js'));

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function call(url, method, headers, body) {
  return new Promise((ok, fail) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => ok({ status: res.statusCode, text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
if (process.getuid?.() !== 0) {
  console.error('uploads bench: needs root (the team daemon runs jobs as OS accounts through sky-node-helper, which runs as root)');
  process.exit(2);
}
const scratch = mkdtempSync(join(tmpdir(), 'sky-bench-uploads-'));
chmodSync(scratch, 0o711); // the accounts walk through it to their node directories
const prefix = `b${randomBytes(3).toString('hex')}-`;
const helperSocket = join(scratch, 'helper', 'helper.sock');
const helper = spawn(
  process.execPath,
  [join(ROOT, 'core/runtime/bin/sky-node-helper.js'), '--socket', helperSocket, '--socket-owner', userInfo().username, '--node-root', join(scratch, 'nodes'), '--prefix', prefix, '--create-accounts'],
  { stdio: 'ignore' },
);

/** End the processes of the bench's accounts (by pid) and remove the accounts. */
function removeAccounts() {
  const accounts = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f[0]?.startsWith(prefix));
  for (const [name, , uid] of accounts) {
    for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        if (statSync(`/proc/${pid}`).uid === Number(uid)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('userdel', ['-r', name], { stdio: 'ignore' });
  }
}
const daemonHome = join(scratch, 'daemon');
const clientHome = join(scratch, 'client');
const work = join(clientHome, 'proj');
mkdirSync(join(daemonHome, '.sky'), { recursive: true });
mkdirSync(join(work, 'src'), { recursive: true });
for (let i = 0; i < SMALL_FILES; i += 1) writeFileSync(join(work, 'src', `f${String(i).padStart(3, '0')}.py`), randomBytes(1000 + (i % 4) * 1000).toString('base64'));
writeFileSync(join(work, 'weights.bin'), randomBytes(BIG_BYTES));

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const admin = { name: 'admin', password: 'bench-admin-1' };
for (let i = 0; !existsSync(helperSocket); i += 1) {
  if (i > 200 || helper.exitCode !== null) throw new Error('sky-node-helper did not start');
  await sleep(50);
}
writeFileSync(
  join(daemonHome, 'daemon.yaml'),
  `auth:\n  mode: basic\nnode_helper:\n  socket: ${helperSocket}\ndrivers:\n  local:\n    root: ${join(daemonHome, 'nodes')}\n    cpus: 4\n    memory_gb: 8\n    accounts:\n      create: true\n      prefix: ${prefix}\n`,
);
const daemon = spawn(process.execPath, [join(ROOT, 'core/daemon/dist/sky-daemon.mjs'), '--host', '127.0.0.1', '--port', String(port), '--config', join(daemonHome, 'daemon.yaml')], {
  env: { ...process.env, HOME: daemonHome, SKY_ADMIN_USERNAME: admin.name, SKY_ADMIN_PASSWORD: admin.password },
  stdio: 'ignore',
});
const auth = (name, password) => ({ authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`, 'content-type': 'application/json' });

function sky(user, argv) {
  const started = performance.now();
  const r = spawnSync(process.execPath, ['--', join(ROOT, 'cli/bin/sky.js'), ...argv], {
    cwd: clientHome,
    env: { ...process.env, HOME: clientHome, SKYPILOT_API_SERVER_ENDPOINT: url.replace('http://', `http://${user}:${user}-password@`) },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`sky ${argv.join(' ')} failed: ${r.stderr}`);
  return performance.now() - started;
}

function rsync(dest) {
  const started = performance.now();
  const r = spawnSync('rsync', ['-a', `${work}/`, dest], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rsync failed: ${r.stderr}`);
  return performance.now() - started;
}

const hasRsync = spawnSync('rsync', ['--version']).status === 0;
const figures = { firstLaunchMs: [], repeatExecMs: [], uploadColdMs: [], uploadWarmMs: [], rsyncFirstMs: [], rsyncRepeatMs: [], sentChunksCold: 0, sentChunksWarm: 0 };
try {
  for (let i = 0; ; i += 1) {
    if ((await call(`${url}/api/health`, 'GET', {}).catch(() => ({ status: 0 }))).status === 200) break;
    if (i > 200) throw new Error('the daemon did not start');
    await sleep(50);
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    const user = `bench${round}`;
    const created = await call(`${url}/api/v1/users`, 'POST', auth(admin.name, admin.password), JSON.stringify({ name: user, password: `${user}-password` }));
    if (created.status !== 201) throw new Error(`creating ${user}: ${created.text}`);
    // Each round is a fresh user: nothing of the tree is stored for them yet.
    const client = new SkyClient({ endpoint: await parseEndpoint(url.replace('http://', `http://${user}:${user}-password@`), 'bench'), identity: { id: user, name: user } });
    let started = performance.now();
    const cold = await client.upload(work);
    figures.uploadColdMs.push(performance.now() - started);
    figures.sentChunksCold = cold.sentChunks;
    started = performance.now();
    const warm = await client.upload(work);
    figures.uploadWarmMs.push(performance.now() - started);
    figures.sentChunksWarm = warm.sentChunks;
    client.close();
    // The CLI path: launch (already uploaded by the SDK above for this user, so use a second user for the cold launch).
    const cliUser = `cli${round}`;
    await call(`${url}/api/v1/users`, 'POST', auth(admin.name, admin.password), JSON.stringify({ name: cliUser, password: `${cliUser}-password` }));
    figures.firstLaunchMs.push(sky(cliUser, ['launch', '-y', '-c', `b${round}`, '--workdir', work, 'true']));
    figures.repeatExecMs.push(sky(cliUser, ['exec', `b${round}`, '--workdir', work, 'true']));
    sky(cliUser, ['down', '-y', `b${round}`]);
    if (hasRsync) {
      const dest = join(scratch, `rsync-${round}`);
      figures.rsyncFirstMs.push(rsync(dest));
      figures.rsyncRepeatMs.push(rsync(dest));
      rmSync(dest, { recursive: true, force: true });
    }
  }
} finally {
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  helper.kill('SIGTERM');
  if (helper.exitCode === null) await new Promise((r) => helper.once('exit', r));
  removeAccounts();
  rmSync(scratch, { recursive: true, force: true });
}

const summary = {
  tree: `${SMALL_FILES} files of 1-4 KB + 1 file of ${BIG_BYTES / 1e6} MB`,
  rounds: ROUNDS,
  sdkUploadColdMs: median(figures.uploadColdMs),
  sdkUploadWarmMs: median(figures.uploadWarmMs),
  chunksSentCold: figures.sentChunksCold,
  chunksSentWarm: figures.sentChunksWarm,
  cliFirstLaunchMs: median(figures.firstLaunchMs),
  cliRepeatExecMs: median(figures.repeatExecMs),
  rsyncFirstMs: hasRsync ? median(figures.rsyncFirstMs) : null,
  rsyncRepeatMs: hasRsync ? median(figures.rsyncRepeatMs) : null,
};
console.log(JSON.stringify(summary, null, 2));
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ summary, figures }, null, 2) + '\n');
