#!/usr/bin/env node
// Runs the benchmarks (bench/README.md): the in-process tinybench suite and the end-to-end
// daemon bench. Writes .bench-out/*.json, prints one table of figures with their targets and
// the change against bench/baseline.json. Figures are reported, never asserted: the exit code
// is non-zero only when a bench itself breaks.
//
//   node scripts/bench.mjs [--quick] [--only dispatch|status|e2e|ssh|helper|logs|completion|cli|k8s|memory|jobs|idle-jobs|postgres] [--ssh] [--profile] [--write-baseline]
//
//   --quick           shorter runs (smoke test of the benches; figures are rougher)
//   --only NAME       run one of the benches; memory (a 150 s soak), jobs (beside Slurm, installs slurm-wlm and munge
//                     when missing) and idle-jobs run only when named (they take 10-40 minutes); k8s (about
//                     45 s) runs by default when root and the control plane is built (scripts/kube-build.sh);
//                     postgres (LevelDB vs PostgreSQL ×1 and ×2 replicas, about 2-3 minutes; needs the
//                     PostgreSQL at 127.0.0.1:5432, or SKY_BENCH_PG_URL) runs only when named
//   --ssh             with jobs / idle-jobs: also (jobs) or instead (idle-jobs) on SSH pool hosts
//   --profile         also take CPU profiles (.bench-out/profile/) of the in-process suite and
//                     of the daemon under HTTP load, and print where the time went; the profiler
//                     slows things down, so a profiled run never becomes the baseline
//   --write-baseline  store this run's figures as bench/baseline.json
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const outDir = join(root, '.bench-out');
const baselineFile = join(root, 'bench/baseline.json');

const args = process.argv.slice(2);
const BENCHES = ['dispatch', 'status', 'e2e', 'ssh', 'helper', 'logs', 'completion', 'cli', 'k8s', 'memory', 'jobs', 'idle-jobs', 'postgres'];
const KNOWN = new Set(['--quick', '--only', '--ssh', '--profile', '--write-baseline', ...BENCHES]);
const unknown = args.filter((a) => !KNOWN.has(a));
if (unknown.length > 0) {
  console.error(`bench: unknown argument ${unknown.join(' ')}\nusage: node scripts/bench.mjs [--quick] [--only ${BENCHES.join('|')}] [--ssh] [--profile] [--write-baseline]`);
  process.exit(2);
}
const quick = args.includes('--quick');
const profile = args.includes('--profile');
const writeBaseline = args.includes('--write-baseline');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;
const ssh = args.includes('--ssh');
if (only !== undefined && !BENCHES.includes(only)) {
  console.error(`bench: --only takes ${BENCHES.join(', ')}`);
  process.exit(2);
}
if (writeBaseline && (profile || quick)) {
  console.error('bench: a --profile or --quick run is not a baseline; run without them to --write-baseline');
  process.exit(2);
}

mkdirSync(outDir, { recursive: true });
const profileDir = join(outDir, 'profile');
if (profile) rmSync(profileDir, { recursive: true, force: true });

function commit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function run(title, argv, env = {}) {
  console.log(`\n== ${title}\n$ ${argv.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`);
  const started = Date.now();
  const result = spawnSync(argv[0], argv.slice(1), { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (result.error || result.status !== 0) {
    console.error(`bench: ${title} failed after ${seconds} s (${result.error?.message ?? (result.signal ? `signal ${result.signal}` : `exit ${result.status}`)})`);
    return false;
  }
  console.log(`(${title}: ${seconds} s)`);
  return true;
}

const started = new Date();
const loadStart = loadavg()[0];
const benches = [];
let broken = false;

if (only === undefined || only === 'dispatch') {
  const file = join(outDir, 'dispatch.json');
  rmSync(file, { force: true });
  const prof = profile ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, 'dispatch')}`] : [];
  const ok = run(
    'in-process dispatch (tinybench)',
    [process.execPath, ...prof, '--conditions=sky-source', '--import', 'tsx', 'bench/dispatch.bench.ts', '--json', file, ...(quick ? ['--quick'] : [])],
    { TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') },
  );
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
  if (ok && profile) {
    const dir = join(profileDir, 'dispatch');
    // tsx runs its loader on a second thread, which writes its own (small) profile: take the main thread's, the largest.
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
    const main = files.map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (main) run('profile of the in-process suite', [process.execPath, 'bench/cpuprofile.mjs', main, '--json', join(dir, 'summary.json')]);
  }
}

if (only === undefined || only === 'status') {
  const file = join(outDir, 'status.json');
  rmSync(file, { force: true });
  const ok = run(
    'in-process status view (tinybench)',
    [process.execPath, '--conditions=sky-source', '--import', 'tsx', 'bench/status.bench.ts', '--json', file, ...(quick ? ['--quick'] : [])],
    { TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') },
  );
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

if (only === undefined || only === 'status') {
  const file = join(outDir, 'status-e2e.json');
  rmSync(file, { force: true });
  const ok = run('end to end: sky status -u over 10,000 clusters', [process.execPath, 'bench/status-e2e.mjs', '--json', file, ...(quick ? ['--quick'] : [])]);
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

if (only === undefined || only === 'e2e') {
  const file = join(outDir, 'e2e.json');
  rmSync(file, { force: true });
  const ok = run('end to end: daemon, CLI, HTTP load', [
    process.execPath,
    'bench/e2e.mjs',
    '--json',
    file,
    ...(quick ? ['--quick'] : []),
    ...(profile ? ['--profile', join(profileDir, 'daemon')] : []),
  ]);
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

if (only === undefined || only === 'ssh') {
  const file = join(outDir, 'ssh.json');
  rmSync(file, { force: true });
  const ok = run(
    'end to end: SSH node pool (namespace hosts)',
    [process.execPath, '--conditions=sky-source', '--import', 'tsx', 'bench/ssh.bench.ts', '--json', file, ...(quick ? ['--quick'] : [])],
    { TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') },
  );
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

if (only === undefined || only === 'helper') {
  const file = join(outDir, 'helper.json');
  rmSync(file, { force: true });
  if (process.getuid?.() !== 0) {
    console.log('\n== account nodes through sky-node-helper: skipped (needs root: the helper runs as root and creates an account)');
  } else {
    const ok = run(
      'account nodes through sky-node-helper vs direct local nodes',
      [process.execPath, '--conditions=sky-source', '--import', 'tsx', 'bench/helper.bench.ts', '--json', file, ...(quick ? ['--quick'] : [])],
      { TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') },
    );
    if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
    else broken = true;
  }
}

if (only === undefined || only === 'logs') {
  const file = join(outDir, 'logs.json');
  rmSync(file, { force: true });
  const ok = run(
    'log line latency: node writes a line → the following CLI prints it (local, SSH)',
    [process.execPath, '--conditions=sky-source', '--import', 'tsx', 'bench/log-latency.mjs', '--json', file, ...(quick ? ['--quick'] : [])],
    { TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') },
  );
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

if (only === undefined || only === 'completion') {
  const file = join(outDir, 'completion.json');
  rmSync(file, { force: true });
  const ok = run('job completion: trivial jobs on a 2-CPU local node, first submit → every job ended', [process.execPath, 'bench/job-completion.mjs', '--json', file, ...(quick ? ['--quick'] : [])], {});
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

if (only === undefined || only === 'cli') {
  const file = join(outDir, 'cli-latency.json');
  rmSync(file, { force: true });
  const ok = run('the CLI against a warm daemon: sky exec -d, status, queue', [process.execPath, 'bench/cli-latency.mjs', '--json', file, ...(quick ? ['--quick'] : [])]);
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

if (only === undefined || only === 'k8s') {
  const file = join(outDir, 'k8s.json');
  rmSync(file, { force: true });
  // Run by default only where it can run; named, it runs and says what is missing.
  const built = spawnSync('bash', [join(root, 'scripts/kube-build.sh'), '--check'], { cwd: root, stdio: 'ignore' }).status === 0 || process.env.SKY_KUBE_BIN !== undefined;
  if (only === undefined && process.getuid?.() !== 0) {
    console.log('\n== Kubernetes driver on a real control plane: skipped (needs root: the harness kubelet uses network namespaces)');
  } else if (only === undefined && !built) {
    console.log('\n== Kubernetes driver on a real control plane: skipped (no control plane build: run bash scripts/kube-build.sh, or set SKY_KUBE_BIN)');
  } else {
    const ok = run(
      'Kubernetes driver on a real control plane: launch → first line, API requests per job and per launch',
      [process.execPath, '--conditions=sky-source', '--import', 'tsx', 'bench/kubernetes.bench.ts', '--json', file, ...(quick ? ['--quick'] : [])],
      { TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') },
    );
    if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
    else broken = true;
  }
}

if (only === 'memory') {
  const file = join(outDir, 'memory.json');
  rmSync(file, { force: true });
  const ok = run('daemon memory: idle, after jobs, soak', [process.execPath, 'bench/memory.mjs', '--json', file, ...(quick ? ['--quick'] : [])]);
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

for (const name of ['jobs', 'idle-jobs']) {
  if (only !== name) continue;
  const file = join(outDir, `${name}.json`);
  rmSync(file, { force: true });
  const ok = run(
    name === 'jobs' ? 'the job path beside Slurm (interleaved rounds)' : 'idle RUNNING jobs: daemon CPU and CLI listings',
    [process.execPath, '--conditions=sky-source', '--import', 'tsx', `bench/${name}.mjs`, '--json', file, ...(quick ? ['--quick'] : []), ...(ssh ? ['--ssh'] : [])],
    { TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') },
  );
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

if (only === 'postgres') {
  const file = join(outDir, 'postgres.json');
  rmSync(file, { force: true });
  const ok = run('PostgreSQL store beside LevelDB: launch/exec mix (×1, ×2 replicas), sky status -u over 10,000 clusters', [process.execPath, 'bench/postgres.mjs', '--json', file, ...(quick ? ['--quick'] : [])]);
  if (ok && existsSync(file)) benches.push(JSON.parse(readFileSync(file, 'utf8')));
  else broken = true;
}

// ---------------------------------------------------------------- the table

const metrics = benches.flatMap((b) => b.metrics ?? []);
const baseline = existsSync(baselineFile) ? JSON.parse(readFileSync(baselineFile, 'utf8')) : undefined;

function fmt(value, unit) {
  if (typeof value !== 'number') return '';
  const digits = unit === '/s' || Math.abs(value) >= 1000 ? 0 : Math.abs(value) >= 100 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}

const rows = metrics.map((m) => {
  const base = baseline?.metrics?.[m.id];
  const met = m.target === undefined ? '' : (m.target.op === '>=' ? m.value >= m.target.value : m.value <= m.target.value) ? 'yes' : 'NO';
  let delta = '';
  if (typeof base === 'number' && base !== 0) {
    const pct = ((m.value - base) / Math.abs(base)) * 100;
    const better = m.better === 'higher' ? pct > 0 : pct < 0;
    delta = `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%${Math.abs(pct) >= 10 ? (better ? ' better' : ' worse') : ''}`;
  }
  return {
    figure: m.label,
    value: fmt(m.value, m.unit),
    target: m.target === undefined ? '' : `${m.target.op} ${fmt(m.target.value, m.unit)}`,
    met,
    baseline: typeof base === 'number' ? fmt(base, m.unit) : '',
    'Δ vs baseline': delta,
  };
});

const e2e = benches.find((b) => b.bench === 'e2e');
console.log(`\n== results (${started.toISOString()}, ${cpus().length} CPUs, node ${process.version}, commit ${commit()})`);
if (rows.length > 0) console.table(rows);
if (e2e?.cli?.skipped) console.log(`note: the CLI timing was skipped: ${e2e.cli.skipped}`);
if (baseline) console.log(`baseline: bench/baseline.json, recorded ${baseline.recorded} at ${baseline.commit} (${baseline.machine?.cpus} CPUs)`);
else console.log('no baseline yet: node scripts/bench.mjs --write-baseline stores this run as bench/baseline.json');
const loadEnd = loadavg()[0];
console.log(
  `1-minute load average: ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end on ${cpus().length} CPUs.` +
    (loadStart > cpus().length / 2 ? ' Other work was running: figures are lower and noisier than on an idle machine.' : ''),
);
if (profile) console.log('profiled run: the profiler slows every figure down; compare only unprofiled runs with the baseline.');

const results = {
  recorded: started.toISOString(),
  commit: commit(),
  machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
  options: { quick, profile, only: only ?? 'all' },
  loadavg_1m: { start: loadStart, end: loadEnd },
  metrics: Object.fromEntries(metrics.map((m) => [m.id, m.value])),
  table: rows,
  benches,
};
writeFileSync(join(outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
console.log(`written: .bench-out/results.json${benches.map((b) => `, .bench-out/${b.bench}.json`).join('')}${profile ? ', .bench-out/profile/' : ''}`);

if (writeBaseline) {
  if (broken || only !== undefined) {
    console.error('bench: not writing the baseline from a partial run');
  } else {
    const base = {
      recorded: results.recorded,
      commit: results.commit,
      machine: results.machine,
      loadavg_1m: results.loadavg_1m,
      note: 'Figures of one unprofiled `node scripts/bench.mjs` run; see bench/README.md for the conditions.',
      metrics: results.metrics,
    };
    writeFileSync(baselineFile, JSON.stringify(base, null, 2) + '\n');
    console.log('written: bench/baseline.json');
  }
}

process.exit(broken ? 1 : 0);
