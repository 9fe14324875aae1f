#!/usr/bin/env node
// End to end `sky status -u` with 10,000 clusters of 100 users in the state store: the store is
// filled directly (LevelDB, as the daemon would have written it), then the built daemon starts
// on it and the CLI's wall time is measured (median and p90 of 20 runs). Target: median ≤ 150 ms.
// Each run is paired with `node -e 0` in the same environment (the floor any node program pays
// here, e.g. for NODE_EXTRA_CA_CERTS), printed beside the figure.
//
//   node bench/status-e2e.mjs [--json FILE] [--quick] [--baseline-cli FILE]
//
// --baseline-cli times another build's cli/bin/sky.js in the same rounds, against the same
// daemon (before/after on one machine state). Needs `npm run build`. Only 127.0.0.1 is
// contacted; the daemon is stopped by pid at the end.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fillClusters } from './lib/clusters.mjs';
import { freePort } from './lib/sky.mjs';
import { caNote, nodeFloorOnce, statusOnce } from './lib/status-cli.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const baselineIndex = args.indexOf('--baseline-cli');
const baselineCli = baselineIndex >= 0 ? resolve(args[baselineIndex + 1]) : undefined;
const RUNS = args.includes('--quick') ? 8 : 20;
const CLUSTERS = 10_000;
const USERS = 100;
const TARGET_MS = 150;


function get(url) {
  return new Promise((ok, fail) => {
    request(url, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode));
    })
      .on('error', fail)
      .end();
  });
}

const home = mkdtempSync(join(tmpdir(), 'sky-status-bench-'));
let daemon;
try {
  const fillMs = await fillClusters(home, CLUSTERS, (i) => ({
    owner: i % USERS === 0 ? 'benchusr' : `u${i % USERS}`,
    ownerName: i % USERS === 0 ? 'bench' : `user${i % USERS}`,
  }));
  console.log(`filled the store with ${CLUSTERS} clusters in ${fillMs.toFixed(0)} ms`);

  const port = await freePort();
  const env = { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: `http://127.0.0.1:${port}` };
  daemon = spawn(process.execPath, [join(ROOT, 'core/daemon/dist/sky-daemon.mjs'), '--host', '127.0.0.1', '--port', String(port)], { env, stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if ((await get(`http://127.0.0.1:${port}/api/health`).catch(() => 0)) === 200) break;
    if (Date.now() > deadline) throw new Error('daemon did not become healthy');
    await sleep(50);
  }
  const sky = join(ROOT, 'cli/bin/sky.js');
  statusOnce(sky, env, CLUSTERS); // warm the page cache and the daemon
  if (baselineCli) statusOnce(baselineCli, env, CLUSTERS);
  const times = { sky: [], floor: [], baseline: [] };
  for (let i = 0; i < RUNS; i++) {
    times.floor.push(nodeFloorOnce(env));
    times.sky.push(statusOnce(sky, env, CLUSTERS));
    if (baselineCli) times.baseline.push(statusOnce(baselineCli, env, CLUSTERS));
  }
  const sorted = (list) => [...list].sort((a, b) => a - b);
  const mid = (list) => sorted(list)[Math.floor(list.length / 2)];
  const median = mid(times.sky);
  const p90 = sorted(times.sky)[Math.min(RUNS - 1, Math.floor(RUNS * 0.9))];
  const floor = mid(times.floor);
  console.log(`sky status -u with ${CLUSTERS} clusters: median ${median.toFixed(0)} ms, p90 ${p90.toFixed(0)} ms over ${RUNS} runs (target median ≤ ${TARGET_MS} ms: ${median <= TARGET_MS ? 'met' : 'NOT met'})`);
  console.log(`node -e 0 in the same rounds (${caNote(env)}): median ${floor.toFixed(0)} ms; sky's own share ≈ ${(median - floor).toFixed(0)} ms`);
  if (baselineCli) console.log(`baseline ${baselineCli} in the same rounds: median ${mid(times.baseline).toFixed(0)} ms`);
  if (jsonFile) {
    mkdirSync(dirname(jsonFile), { recursive: true });
    writeFileSync(
      jsonFile,
      JSON.stringify({
        bench: 'status-e2e',
        metrics: [
          { id: 'status.cli.median', label: `sky status -u, ${CLUSTERS} clusters, median`, value: median, unit: 'ms', better: 'lower', target: { op: '<=', value: TARGET_MS } },
          { id: 'status.cli.p90', label: `sky status -u, ${CLUSTERS} clusters, p90`, value: p90, unit: 'ms', better: 'lower' },
          { id: 'status.node_floor.median', label: `node -e 0 in the same rounds (${caNote(env)}), median`, value: floor, unit: 'ms', better: 'lower' },
        ],
      }, null, 2),
    );
  }
} finally {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await Promise.race([new Promise((r) => daemon.once('exit', r)), sleep(10_000).then(() => daemon.kill('SIGKILL'))]);
  }
  rmSync(home, { recursive: true, force: true });
}
