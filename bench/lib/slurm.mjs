// A private single-node Slurm (Debian's slurm-wlm and munge) for the job benches: its own munged
// (own key and socket), slurmctld and slurmd from a config written to a temp dir, on 127.0.0.1
// with free ports, one node with this machine's CPUs. The daemons run in the foreground under
// bench/lib/reaper.py (CPU of slurmctld + slurmd + slurmstepd + the jobs adds up there); stop()
// ends every one of them by pid and removes the dir. Installs the packages when missing (root).
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './sky.mjs';
import { killTreeNow, mainPid, spawnReaped, stopTree } from './proc.mjs';

/** The two profiles: Debian's defaults, and the one tuned for trivial jobs (see /bench/README.md). */
export const PROFILES = {
  stock: '',
  tuned: 'Epilog=/bin/true\nSchedulerParameters=batch_sched_delay=0\n',
};

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

export function ensureSlurmInstalled() {
  if (['slurmctld', 'slurmd', 'sbatch', 'munged'].every(has)) return;
  if (process.getuid?.() !== 0) throw new Error('Slurm is not installed: run as root (the bench apt-get installs slurm-wlm and munge), or install them by hand');
  console.log('installing slurm-wlm and munge (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const argv of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', 'slurm-wlm', 'munge']]) {
    const r = spawnSync('apt-get', argv, { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`apt-get ${argv.join(' ')} failed (exit ${r.status})`);
  }
}

export function run(argv, env, timeoutMs = 60_000) {
  return new Promise((resolveRun, reject) => {
    execFile(argv[0], argv.slice(1), { env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolveRun(stdout);
    });
  });
}

/** Start munged, slurmctld and slurmd with `profile` ('stock' or 'tuned'); resolves once the node is idle. */
export async function startSlurm(profile) {
  ensureSlurmInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'sky-bench-slurm-'));
  chmodSync(dir, 0o755);
  for (const sub of ['state', 'spool', 'log', 'out', 'munge']) mkdirSync(join(dir, sub), { recursive: true });
  chmodSync(join(dir, 'munge'), 0o700);
  const key = join(dir, 'munge/munge.key');
  writeFileSync(key, Buffer.from(Array.from({ length: 1024 }, () => Math.floor(Math.random() * 256))), { mode: 0o400 });
  const socket = join(dir, 'munge/munge.socket');
  const [ctlPort, dPort] = [await freePort(), await freePort()];
  const host = hostname().split('.')[0];
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=skybench',
      `SlurmctldHost=${host}(127.0.0.1)`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `SlurmctldPort=${ctlPort}`,
      `SlurmdPort=${dPort}`,
      'AuthType=auth/munge',
      `AuthInfo=socket=${socket}`,
      'CredType=cred/munge',
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log/slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log/slurmd.log')}`,
      'ProctrackType=proctrack/pgid',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'ReturnToService=2',
      'MpiDefault=none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'MaxJobCount=100000',
      'MinJobAge=2',
      `NodeName=benchnode NodeHostname=${host} NodeAddr=127.0.0.1 CPUs=${cpus().length} State=UNKNOWN`,
      'PartitionName=bench Nodes=benchnode Default=YES MaxTime=INFINITE State=UP',
      PROFILES[profile],
    ].join('\n') + '\n',
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const children = [];
  const slurm = {
    dir,
    env,
    profile,
    pids: {},
    reapers: {},
    async stop() {
      for (const child of children.reverse()) await stopTree(child, 10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const onExit = () => {
    for (const c of children) killTreeNow(c.pid);
  };
  process.once('exit', onExit);
  const start = async (name, argv) => {
    const child = spawnReaped(argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    children.push(child);
    slurm.reapers[name] = child.pid;
    slurm.pids[name] = await mainPid(child.pid);
    child.once('exit', (code) => {
      if (!slurm.stopping) console.error(`${name} exited (${code}): ${err.trim()}`);
    });
  };
  try {
    await start('munged', ['munged', '--foreground', '--force', `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(dir, 'munge/munged.pid')}`, `--log-file=${join(dir, 'log/munged.log')}`, `--seed-file=${join(dir, 'munge/seed')}`]);
    await waitFor('munged socket', () => spawnSync('sh', ['-c', `test -S ${socket}`]).status === 0);
    await start('slurmctld', ['slurmctld', '-D', '-c', '-f', conf]);
    await start('slurmd', ['slurmd', '-D', '-N', 'benchnode', '-f', conf]);
    await waitFor('the Slurm node to be idle', async () => (await run(['sinfo', '-h', '-o', '%t'], env).catch(() => '')).trim() === 'idle', 60_000);
  } catch (err) {
    slurm.stopping = true;
    await slurm.stop();
    throw err;
  }
  const stop = slurm.stop;
  slurm.stop = async () => {
    slurm.stopping = true;
    await stop();
  };
  return slurm;
}

async function waitFor(what, probe, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** sbatch one `true` job of 1 CPU (held when `hold`); resolves with its id. */
export async function sbatch(slurm, { hold = false, wrap = 'true' } = {}) {
  const out = await run(['sbatch', '--parsable', '-c', '1', '-o', join(slurm.dir, 'out/%j.out'), ...(hold ? ['--hold'] : []), '--wrap', wrap], slurm.env);
  return Number(out.trim().split(';')[0]);
}

/** Jobs Slurm still has pending or running. */
export async function activeJobs(slurm) {
  const out = await run(['squeue', '-h', '-t', 'PD,R,CF,CG', '-o', '%i'], slurm.env);
  return out.split('\n').filter((l) => l.trim() !== '').length;
}
