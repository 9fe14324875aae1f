/**
 * Log line latency: a job prints its own wall-clock time (date +%s%N) on each line; the
 * following CLI (`sky exec`, which streams the job's log) is read by this process, which
 * timestamps each line as it arrives on the CLI's stdout. The difference — node writes a line →
 * the CLI prints it — is reported as median and p95, on the local driver and on an SSH pool of
 * namespace hosts (which share this machine's clock), in rounds interleaved local/SSH.
 *
 *   TSX_TSCONFIG_PATH=test/tsconfig.json node --conditions=sky-source --import tsx bench/log-latency.mjs [--json FILE] [--quick]
 * Needs `npm run build` and root (namespaces). The daemon and hosts are stopped by PID at the end.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, removeHome, SKY_BIN, startDaemon, tempHome } from '../test/helpers/daemon-process.js';
import { createHosts } from '../test/helpers/netns-hosts.js';
import { sshDaemonConfig } from '../test/helpers/ssh-daemon-config.js';

const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const quick = args.includes('--quick');
const ROUNDS = quick ? 1 : 4;
const LINES = quick ? 20 : 50;
// The job waits first, so the CLI is following before the first line is written.
const JOB = `sleep 2; i=0; while [ $i -lt ${LINES} ]; do date +%s%N; sleep 0.05; i=$((i+1)); done`;

/** Run `sky ARGS`, resolving with each stdout line and the wall-clock ms it arrived at. */
function linesOf(env, skyArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--', SKY_BIN, ...skyArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = [];
    let partial = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      const at = performance.timeOrigin + performance.now();
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) lines.push({ text, at });
    });
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(lines) : reject(new Error(`sky ${skyArgs.join(' ')} exited ${code}: ${stderr.slice(-500)}`))));
  });
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const home = tempHome();
let set;
let daemon;
try {
  set = await createHosts(1);
  daemon = await startDaemon({ home, port: await freePort(), config: sshDaemonConfig(set, { local: true, pool: 'bench' }) });
  const env = { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: daemon.url };
  delete env.NODE_OPTIONS;
  const drivers = [
    { name: 'local', cluster: 'lat-local', infra: 'local', samples: [] },
    { name: 'ssh', cluster: 'lat-ssh', infra: 'ssh/bench', samples: [] },
  ];
  for (const d of drivers) await linesOf(env, ['launch', '-y', '-c', d.cluster, '--infra', d.infra, 'true']);
  for (let round = 0; round < ROUNDS; round++) {
    for (const d of drivers) {
      const lines = await linesOf(env, ['exec', d.cluster, JOB]);
      for (const { text, at } of lines) {
        if (!/^\d{19}$/.test(text)) continue;
        const written = Number(BigInt(text) / 1000n) / 1000;
        d.samples.push(at - written);
      }
    }
  }
  for (const d of drivers) await linesOf(env, ['down', '-y', d.cluster]);
  const metrics = [];
  console.log(`mode: ${set.mode}; ${ROUNDS} rounds of ${LINES} lines per driver, interleaved`);
  for (const d of drivers) {
    if (d.samples.length === 0) throw new Error(`no timestamped lines came back from the ${d.name} driver`);
    const med = quantile(d.samples, 0.5);
    const p95 = quantile(d.samples, 0.95);
    const target = d.name === 'local' ? 50 : 100;
    console.log(`${d.name}: node writes a line → sky exec prints it: median ${med.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${Math.max(...d.samples).toFixed(1)} ms over ${d.samples.length} lines (target ≤ ${target} ms)`);
    metrics.push(
      { id: `logs.${d.name}.median`, label: `log line latency, ${d.name}, median`, value: med, unit: 'ms', better: 'lower', target: { op: '<=', value: target } },
      { id: `logs.${d.name}.p95`, label: `log line latency, ${d.name}, p95`, value: p95, unit: 'ms', better: 'lower' },
    );
  }
  if (jsonFile) {
    mkdirSync(dirname(jsonFile), { recursive: true });
    writeFileSync(jsonFile, JSON.stringify({ bench: 'logs', metrics }, null, 2));
  }
} finally {
  await daemon?.stop();
  await set?.destroy();
  removeHome(home);
}
