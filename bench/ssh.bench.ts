/**
 * SSH node pools end to end, on two sshd hosts in network namespaces (loopback sshd where
 * namespaces are not permitted): the wall time from `sky launch` to the first log line of a
 * 2-node job (new cluster, then an exec on it), and how many SSH connections the daemon holds
 * per host after several jobs (pooled: should stay 1 per host, O(hosts), not O(jobs)).
 *
 *   TSX_TSCONFIG_PATH=test/tsconfig.json node --conditions=sky-source --import tsx bench/ssh.bench.ts [--json FILE] [--quick]
 * Needs `npm run build` and root (namespaces). The daemon and hosts are stopped by PID at the end.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, removeHome, SKY_BIN, startDaemon, tempHome, type DaemonHandle } from '../test/helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../test/helpers/netns-hosts.js';
import { sshDaemonConfig } from '../test/helpers/ssh-daemon-config.js';

const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const RUNS = args.includes('--quick') ? 3 : 8;

/** Run `sky ARGS` and resolve with the ms until stdout shows `marker`, and the exit code. */
function timeToLine(env: NodeJS.ProcessEnv, skyArgs: string[], marker: string): Promise<{ ms: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let firstAt: number | undefined;
    let out = '';
    const child = spawn(process.execPath, ['--', SKY_BIN, ...skyArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (firstAt === undefined && out.includes(marker)) firstAt = performance.now() - t0;
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('exit', (code) => (firstAt === undefined ? reject(new Error(`no "${marker}" in: ${out.slice(0, 500)}`)) : resolve({ ms: firstAt, code })));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

let set: TestHosts | undefined;
let daemon: DaemonHandle | undefined;
const home = tempHome();
try {
  set = await createHosts(2);
  const config = sshDaemonConfig(set, { pool: 'bench' });
  const port = await freePort();
  daemon = await startDaemon({ home, port, config });
  const env = { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: daemon.url };
  const launches: number[] = [];
  const execs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const launch = await timeToLine(env, ['launch', '-y', '-c', `b${i}`, '--infra', 'ssh/bench', '--num-nodes', '2', 'echo first-line'], 'first-line');
    launches.push(launch.ms);
    const exec = await timeToLine(env, ['exec', `b${i}`, '--num-nodes', '2', 'echo exec-line'], 'exec-line');
    execs.push(exec.ms);
    const connections = [await set.connectionCount(0), await set.connectionCount(1)];
    if (i === RUNS - 1) console.log(`SSH connections held by the daemon after ${2 * (i + 1)} jobs: ${connections.join(' + ')} (per host)`);
    await new Promise<void>((resolve, reject) => {
      const down = spawn(process.execPath, ['--', SKY_BIN, 'down', '-y', `b${i}`], { env, stdio: 'ignore' });
      down.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sky down exited ${code}`))));
    });
  }
  const perHost = Math.max(await set.connectionCount(0), await set.connectionCount(1));
  console.log(`mode: ${set.mode}`);
  console.log(`sky launch (new 2-node SSH cluster) → first log line: median ${median(launches).toFixed(0)} ms over ${RUNS}`);
  console.log(`sky exec (existing cluster) → first log line: median ${median(execs).toFixed(0)} ms over ${RUNS}`);
  console.log(`SSH connections per host after ${2 * RUNS} jobs on ${RUNS} clusters: ${perHost}`);
  if (jsonFile) {
    mkdirSync(dirname(jsonFile), { recursive: true });
    writeFileSync(
      jsonFile,
      JSON.stringify(
        {
          bench: 'ssh',
          metrics: [
            { id: 'ssh.launch.firstLine', label: 'sky launch 2-node SSH cluster → first log line, median', value: median(launches), unit: 'ms', better: 'lower' },
            { id: 'ssh.exec.firstLine', label: 'sky exec on it → first log line, median', value: median(execs), unit: 'ms', better: 'lower' },
            { id: 'ssh.connectionsPerHost', label: 'SSH connections per host after all jobs', value: perHost, unit: '', better: 'lower', target: { op: '<=', value: 1 } },
          ],
        },
        null,
        2,
      ),
    );
  }
} finally {
  await daemon?.stop();
  await set?.destroy();
  removeHome(home);
}
