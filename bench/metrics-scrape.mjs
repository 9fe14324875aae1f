#!/usr/bin/env node
// GET /metrics with 10,000 clusters in the state store, and with none: the store is filled
// directly (LevelDB, as the daemon would have written it), the built daemon (a personal one,
// auth none) starts on it, and the scrape's wall time is measured from this client (median and
// p90 of RUNS scrapes, after one warm-up scrape that also adds the process metrics).
//
//   node bench/metrics-scrape.mjs [--json FILE] [--quick]
//
// Needs `npm run build`. Only 127.0.0.1 is contacted; each daemon is stopped by pid at the end.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fillClusters } from './lib/clusters.mjs';
import { freePort } from './lib/sky.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const RUNS = args.includes('--quick') ? 10 : 50;
const CLUSTERS = 10_000;
const USERS = 100;

function get(port, path, headers = {}) {
  return new Promise((ok, fail) => {
    request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    })
      .on('error', fail)
      .end();
  });
}

/** Start a daemon on HOME's state, scrape it, stop it; resolves with the scrape times (ms) and the last answer. */
async function scrapes(home) {
  const port = await freePort();
  const daemon = spawn(process.execPath, [join(ROOT, 'core/daemon/dist/sky-daemon.mjs'), '--host', '127.0.0.1', '--port', String(port)], { env: { ...process.env, HOME: home }, stdio: 'ignore' });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if ((await get(port, '/api/health').catch(() => ({ status: 0 }))).status === 200) break;
      if (Date.now() > deadline) throw new Error('daemon did not become healthy');
      await sleep(50);
    }
    const headers = { 'x-sky-local-token': readFileSync(join(home, '.sky/api_server/local_token'), 'utf8').trim() };
    const warm = await get(port, '/metrics', headers);
    if (warm.status !== 200) throw new Error(`GET /metrics: ${warm.status} ${warm.text}`);
    const times = [];
    let last = warm;
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      last = await get(port, '/metrics', headers);
      times.push(performance.now() - started);
    }
    return { times, text: last.text };
  } finally {
    if (daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await Promise.race([new Promise((r) => daemon.once('exit', r)), sleep(10_000).then(() => daemon.kill('SIGKILL'))]);
    }
  }
}

const sorted = (list) => [...list].sort((a, b) => a - b);
const median = (list) => sorted(list)[Math.floor(list.length / 2)];
const p90 = (list) => sorted(list)[Math.min(list.length - 1, Math.floor(list.length * 0.9))];

const full = mkdtempSync(join(tmpdir(), 'sky-metrics-bench-'));
const empty = mkdtempSync(join(tmpdir(), 'sky-metrics-bench-empty-'));
try {
  const fillMs = await fillClusters(full, CLUSTERS, (i) => ({ owner: `u${i % USERS}`, ownerName: `user${i % USERS}` }));
  console.log(`filled the store with ${CLUSTERS} clusters in ${fillMs.toFixed(0)} ms`);
  const many = await scrapes(full);
  const none = await scrapes(empty);
  const up = /^sky_clusters\{driver="local",status="UP",[^}]*\} (\d+)$/m.exec(many.text)?.[1];
  console.log(`GET /metrics with ${CLUSTERS} clusters (sky_clusters UP = ${up}): median ${median(many.times).toFixed(1)} ms, p90 ${p90(many.times).toFixed(1)} ms over ${RUNS} scrapes, ${(many.text.length / 1024).toFixed(1)} KiB`);
  console.log(`GET /metrics with no cluster: median ${median(none.times).toFixed(1)} ms, p90 ${p90(none.times).toFixed(1)} ms over ${RUNS} scrapes, ${(none.text.length / 1024).toFixed(1)} KiB`);
  if (jsonFile) {
    mkdirSync(dirname(jsonFile), { recursive: true });
    writeFileSync(
      jsonFile,
      JSON.stringify({
        bench: 'metrics-scrape',
        metrics: [
          { id: 'metrics.scrape_10k.median', label: `GET /metrics, ${CLUSTERS} clusters, median`, value: median(many.times), unit: 'ms', better: 'lower' },
          { id: 'metrics.scrape_10k.p90', label: `GET /metrics, ${CLUSTERS} clusters, p90`, value: p90(many.times), unit: 'ms', better: 'lower' },
          { id: 'metrics.scrape_empty.median', label: 'GET /metrics, no cluster, median', value: median(none.times), unit: 'ms', better: 'lower' },
        ],
      }, null, 2),
    );
  }
} finally {
  rmSync(full, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
}
