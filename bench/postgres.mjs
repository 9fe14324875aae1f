#!/usr/bin/env node
/**
 * The PostgreSQL store beside LevelDB, in one run, with durable commits on both: LevelDB with
 * `store: {sync: true}` (fsync per group commit), PostgreSQL as the machine's server has it
 * (synchronous_commit, fsync, … printed with the results). The built daemon (core/daemon/dist)
 * on the local driver; each PostgreSQL run in a schema of its own on the machine's server
 * (127.0.0.1:5432, database test; SKY_BENCH_PG_URL to change), dropped after.
 *
 *   mix      interleaved rounds of (LevelDB ×1, PostgreSQL ×1, PostgreSQL ×2 replicas): 4 local
 *            clusters launched (spread over the replicas), then N exec requests of `true` from 8
 *            keep-alive clients, client k submitting to replica k mod replicas (to the clusters
 *            that replica launched) and waiting on the same replica. Reported: jobs/s (first exec
 *            submit → every job ended), submit latency (POST → 202) p50/p99, requests not
 *            SUCCEEDED, jobs lost or run twice (the clusters' job tables against the requests),
 *            PostgreSQL connections of the schema (largest total and largest active, sampled
 *            every 100 ms), feed transactions and rows written per exec (the server's table
 *            statistics), daemons' largest VmRSS.
 *   status   `sky status -u` wall time with 10,000 clusters of 100 users, a PostgreSQL daemon and
 *            a LevelDB daemon, interleaved, median of 20 each (target ≤ 150 ms on PostgreSQL).
 *
 * Daemons run under bench/lib/reaper.py and are stopped by pid (also on failure or Ctrl-C).
 * Figures are reported, never asserted; the exit code is non-zero only when a request fails, a
 * job is lost or run twice, or the bench breaks.
 *
 *   node bench/postgres.mjs [--json FILE] [--quick] [--rounds N] [--execs N] [--setups level,pg1,pg2] [--mix-only | --status-only] [--baseline-cli FILE]
 *
 * --mix-only skips the status part (for comparing two builds of the store on the mix alone);
 * --status-only skips the mix. The status part pairs each run with `node -e 0` in the same
 * environment and prints that floor beside the figures; --baseline-cli FILE times another
 * build's cli/bin/sky.js in the same rounds against the same daemons (before/after).
 *   node scripts/bench.mjs --only postgres [--quick]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { fillClusters, fillStore } from './lib/clusters.mjs';
import { commitLatency, connectAdmin, dropSchema, durabilitySettings, openStore, PG_URL, sampleConnections, schemaName, writesOf } from './lib/postgres.mjs';
import { median, percentile, rssMib } from './lib/proc.mjs';
import { jobs, operation, SKY_BIN, startSky } from './lib/sky.mjs';
import { caNote, nodeFloorOnce, statusOnce as timeStatus } from './lib/status-cli.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const mixOnly = args.includes('--mix-only');
const statusOnly = args.includes('--status-only');
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const jsonFile = option('--json');
const baselineCli = option('--baseline-cli') === undefined ? undefined : resolve(option('--baseline-cli'));
const ROUNDS = Number(option('--rounds', quick ? 1 : 3));
const EXECS = Number(option('--execs', quick ? 120 : 400));
const CLIENTS = 8;
const CLUSTERS = 4;
const STATUS_CLUSTERS = 10_000;
const STATUS_USERS = 100;
const STATUS_RUNS = quick ? 8 : 20;
const STATUS_TARGET_MS = 150;
const PHASE_LIMIT_MS = 600_000;
const ACTIVE = ['PENDING', 'SETTING_UP', 'RUNNING'];
const ALL_SETUPS = [
  { id: 'level', label: 'LevelDB ×1', kind: 'level', replicas: 1 },
  { id: 'pg1', label: 'PostgreSQL ×1', kind: 'postgres', replicas: 1 },
  { id: 'pg2', label: 'PostgreSQL ×2', kind: 'postgres', replicas: 2 },
];
// --setups level,pg2: only those (a diagnostic; ratios need level).
const SETUPS = ALL_SETUPS.filter((s) => option('--setups', 'level,pg1,pg2').split(',').includes(s.id));
if (!(ROUNDS >= 1) || !(EXECS >= CLIENTS)) {
  console.error(`bench: --rounds takes a number ≥ 1 and --execs a number ≥ ${CLIENTS}`);
  process.exit(2);
}

// Everything started or created, so that it is stopped and dropped on any way out.
const live = { skys: new Set(), schemas: new Set(), dirs: new Set() };
let admin;

async function cleanup() {
  for (const sky of [...live.skys]) {
    await sky.stop().catch((err) => console.error(`bench: stopping daemon ${sky.pid}: ${err.message}`));
    live.skys.delete(sky);
  }
  for (const schema of [...live.schemas]) {
    await dropSchema(admin, schema).catch((err) => console.error(`bench: dropping schema ${schema}: ${err.message}`));
    live.schemas.delete(schema);
  }
  for (const dir of [...live.dirs]) {
    rmSync(dir, { recursive: true, force: true });
    live.dirs.delete(dir);
  }
}

function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  live.dirs.add(dir);
  return dir;
}

function storeYaml(store) {
  if (store.kind === 'postgres') return `store:\n  kind: postgres\n  url: ${PG_URL}\n  schema: ${store.schema}\n`;
  return `store:\n  kind: level\n  sync: true\n${store.path ? `  path: ${store.path}\n` : ''}`;
}

/** Start `replicas` daemons on one store; the local driver's nodes under one shared root. */
async function startReplicas(store, replicas, nodesRoot) {
  const started = [];
  for (let r = 0; r < replicas; r++) {
    const sky = await startSky(
      () => `replica_id: bench-r${r}\n${storeYaml(store)}drivers:\n  local:\n    root: ${nodesRoot}\n    cpus: 8\n    memory_gb: 16\n`,
      { prefix: `sky-bench-pg-${store.kind}-` },
    );
    live.skys.add(sky);
    started.push(sky);
  }
  return started;
}

async function stopReplicas(replicas) {
  for (const sky of replicas) {
    if (!live.skys.has(sky)) continue; // stopped already
    await sky.stop();
    live.skys.delete(sky);
  }
}

function rssSampler(pids, everyMs = 200) {
  let max = 0;
  const take = () => {
    let sum = 0;
    for (const pid of pids) sum += rssMib(pid) ?? 0;
    max = Math.max(max, sum);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return max;
    },
  };
}

/** POST without throwing: the status, the request id and the time to the answer. */
async function timedSubmit(sky, op, body) {
  const t0 = performance.now();
  try {
    const res = await sky.call('POST', `/api/v1/${op}`, body);
    return { ms: performance.now() - t0, status: res.status, id: res.status === 202 ? res.json.requestId : undefined, error: res.status === 202 ? undefined : res.text.slice(0, 200) };
  } catch (err) {
    return { ms: performance.now() - t0, status: 0, error: err.message };
  }
}

async function waitEnded(sky, id) {
  const deadline = Date.now() + PHASE_LIMIT_MS;
  for (;;) {
    const res = await sky.call('GET', `/api/v1/requests/${id}/wait?timeout=30`);
    if (res.status !== 200) return { status: `HTTP ${res.status}`, error: { code: res.text.slice(0, 120) } };
    if (!ACTIVE.includes(res.json.status)) return res.json;
    if (Date.now() > deadline) return { status: `still ${res.json.status}` };
  }
}

async function mix(setup, round) {
  const nodesRoot = tempDir('sky-bench-pg-nodes-');
  const store = setup.kind === 'postgres' ? { kind: 'postgres', schema: schemaName(`mix_${setup.id}_${round}`) } : { kind: 'level' };
  if (store.schema) live.schemas.add(store.schema);
  const replicas = await startReplicas(store, setup.replicas, nodesRoot);
  const conns = store.schema ? sampleConnections(admin, store.schema) : undefined;
  const rss = rssSampler(replicas.map((s) => s.pid));
  const names = Array.from({ length: CLUSTERS }, (_, i) => `mix-${i}`);
  try {
    const tLaunch = performance.now();
    await Promise.all(names.map((cluster, i) => operation(replicas[i % replicas.length], 'launch', { cluster, task: { resources: { cpus: 2 } } })));
    const launchMs = performance.now() - tLaunch;

    const submits = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, k) => {
        const r = k % replicas.length;
        const sky = replicas[r];
        // The clusters this replica launched: the bench does not depend on one replica acting on
        // another's cluster (cross-replica handling), only on both sharing one store.
        const mine = names.filter((_, i) => i % replicas.length === r);
        while (next < EXECS) {
          const n = next++;
          const s = await timedSubmit(sky, 'exec', { cluster: mine[n % mine.length], task: { run: 'true', resources: { cpus: 1 } } });
          submits.push({ ...s, sky });
        }
      }),
    );
    const submittedMs = performance.now() - t0;
    const outcomes = {};
    const count = (key) => (outcomes[key] = (outcomes[key] ?? 0) + 1);
    for (const s of submits) {
      if (s.id === undefined) {
        count(`submit HTTP ${s.status}`);
        continue;
      }
      const record = await waitEnded(s.sky, s.id);
      count(record.status === 'SUCCEEDED' ? 'SUCCEEDED' : `${record.status} ${record.error?.code ?? ''}`.trim());
    }
    // Every job ended: read from the replica that launched the cluster.
    const owner = (i) => replicas[i % replicas.length];
    for (;;) {
      let active = 0;
      for (const [i, cluster] of names.entries()) active += (await jobs(owner(i), cluster, ACTIVE)).length;
      if (active === 0) break;
      if (performance.now() - t0 > PHASE_LIMIT_MS) throw new Error(`${setup.label}: ${active} jobs have not ended`);
      await sleep(active < 20 ? 10 : 100);
    }
    const allEndedMs = performance.now() - t0;
    let jobCount = 0;
    let jobsOk = 0;
    for (const [i, cluster] of names.entries()) {
      const list = await jobs(owner(i), cluster);
      jobCount += list.length;
      jobsOk += list.filter((j) => j.status === 'SUCCEEDED').length;
    }
    // Informational: does a replica list the clusters another one launched (cross-replica view)?
    let seenByOthers = 0;
    let others = 0;
    for (const [i, cluster] of names.entries()) {
      for (const [r, sky] of replicas.entries()) {
        if (r === i % replicas.length) continue;
        others += 1;
        if ((await sky.call('GET', `/api/v1/clusters/${cluster}/jobs?all_users=true&status=RUNNING`)).status === 200) seenByOthers += 1;
      }
    }
    const latencies = submits.map((s) => s.ms).sort((a, b) => a - b);
    const failed = submits.length - (outcomes.SUCCEEDED ?? 0);
    const maxRss = rss.stop();
    const connections = conns ? await conns.stop() : undefined;
    const tDown = performance.now();
    await Promise.all(names.map((cluster, i) => operation(replicas[i % replicas.length], 'down', { cluster })));
    const downMs = performance.now() - tDown;
    await stopReplicas(replicas);
    const writes = store.schema ? await writesOf(admin, store.schema) : undefined;
    return {
      setup: setup.id,
      round,
      replicas: setup.replicas,
      schema: store.schema,
      launch_ms: launchMs,
      down_ms: downMs,
      requests: submits.length,
      submitted_ms: submittedMs,
      all_jobs_ended_ms: allEndedMs,
      jobs_per_s: (EXECS * 1000) / allEndedMs,
      submit_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] },
      failed,
      outcomes,
      jobs: jobCount,
      jobs_succeeded: jobsOk,
      // Each SUCCEEDED exec queued exactly one job: fewer is a job lost, more is one run twice.
      jobs_lost: Math.max(0, (outcomes.SUCCEEDED ?? 0) - jobCount),
      jobs_extra: Math.max(0, jobCount - (outcomes.SUCCEEDED ?? 0)),
      connections,
      rss_mib_max: maxRss,
      // Per exec request, the 4 launches and downs included (server statistics of the schema).
      writes_per_exec: writes ? { feed_transactions: writes.feed_transactions / EXECS, rows: writes.rows_written / EXECS } : undefined,
      clusters_seen_by_other_replicas: others === 0 ? undefined : `${seenByOthers}/${others}`,
    };
  } finally {
    rss.stop();
    if (conns) await conns.stop();
    await stopReplicas(replicas);
    if (store.schema) {
      await dropSchema(admin, store.schema);
      live.schemas.delete(store.schema);
    }
    rmSync(nodesRoot, { recursive: true, force: true });
    live.dirs.delete(nodesRoot);
  }
}

const statusShape = (i) => ({ owner: i % STATUS_USERS === 0 ? 'benchusr' : `u${i % STATUS_USERS}`, ownerName: i % STATUS_USERS === 0 ? 'bench' : `user${i % STATUS_USERS}` });

function statusOnce(sky, bin = SKY_BIN) {
  return timeStatus(bin, sky.cliEnv(), STATUS_CLUSTERS);
}

async function status() {
  const levelHome = tempDir('sky-bench-pg-status-level-');
  const levelFillMs = await fillClusters(levelHome, STATUS_CLUSTERS, statusShape);
  const schema = schemaName('status');
  live.schemas.add(schema);
  const pgStore = await openStore(schema);
  let pgFillMs;
  try {
    pgFillMs = await fillStore(pgStore, STATUS_CLUSTERS, statusShape);
  } finally {
    await pgStore.close();
  }
  console.log(`status: filled ${STATUS_CLUSTERS} clusters of ${STATUS_USERS} users: LevelDB ${levelFillMs.toFixed(0)} ms, PostgreSQL ${pgFillMs.toFixed(0)} ms`);
  const nodesRoot = tempDir('sky-bench-pg-nodes-');
  const [level] = await startReplicas({ kind: 'level', path: join(levelHome, '.sky/api_server/state') }, 1, nodesRoot);
  const [postgres] = await startReplicas({ kind: 'postgres', schema }, 1, nodesRoot);
  const conns = sampleConnections(admin, schema);
  try {
    statusOnce(level); // warm the page cache and each daemon
    statusOnce(postgres);
    const times = { level: [], postgres: [], floor: [], baseline_level: [], baseline_postgres: [] };
    for (let i = 0; i < STATUS_RUNS; i++) {
      times.floor.push(nodeFloorOnce(level.cliEnv()));
      times.level.push(statusOnce(level));
      times.postgres.push(statusOnce(postgres));
      if (baselineCli) {
        times.baseline_level.push(statusOnce(level, baselineCli));
        times.baseline_postgres.push(statusOnce(postgres, baselineCli));
      }
    }
    const summary = (list) => {
      const sorted = [...list].sort((a, b) => a - b);
      return { median: median(sorted), p90: percentile(sorted, 90), runs: sorted.length };
    };
    return { clusters: STATUS_CLUSTERS, users: STATUS_USERS, level: summary(times.level), postgres: summary(times.postgres), node_floor: { ...summary(times.floor), env: caNote(level.cliEnv()) }, ...(baselineCli ? { baseline: { cli: baselineCli, level: summary(times.baseline_level), postgres: summary(times.baseline_postgres) } } : {}), connections: await conns.stop(), rss_mib: { level: rssMib(level.pid), postgres: rssMib(postgres.pid) } };
  } finally {
    await conns.stop();
    await stopReplicas([level, postgres]);
    await dropSchema(admin, schema);
    live.schemas.delete(schema);
  }
}

const f = (n, d = 1) => (typeof n === 'number' ? n.toFixed(d) : String(n));
const byMedian = (runs, pick) => median(runs.map(pick).sort((a, b) => a - b));

async function main() {
  process.once('SIGINT', () => cleanup().finally(() => process.exit(130)));
  process.once('SIGTERM', () => cleanup().finally(() => process.exit(143)));
  admin = await connectAdmin();
  const load = [loadavg()[0]];
  try {
    const settings = await durabilitySettings(admin);
    console.log(`PostgreSQL ${settings.server_version} at ${PG_URL}: synchronous_commit=${settings.synchronous_commit}, fsync=${settings.fsync}, wal_sync_method=${settings.wal_sync_method}, full_page_writes=${settings.full_page_writes}, commit_delay=${settings.commit_delay}, max_connections=${settings.max_connections}`);
    const commit = await commitLatency(admin);
    settings.commit_ms = commit;
    console.log(`one durable commit (single-row INSERT, autocommit) seen from a client: p50 ${f(commit.p50_ms, 2)} ms, p90 ${f(commit.p90_ms, 2)} ms over ${commit.count}`);
    console.log(`LevelDB: store.sync true (fsync per group commit). PostgreSQL daemons: pool_max default (10) per replica.`);
    const rounds = statusOnly ? 0 : ROUNDS;
    if (!statusOnly) console.log(`mix: ${ROUNDS} round(s) of ${SETUPS.map((s) => s.label).join(', ')}; ${CLUSTERS} clusters, ${EXECS} exec requests of \`true\` from ${CLIENTS} clients`);
    const runs = [];
    for (let round = 1; round <= rounds; round++) {
      for (const setup of SETUPS) {
        const r = await mix(setup, round);
        runs.push(r);
        console.log(
          `  round ${round} ${setup.label.padEnd(14)} ${f(r.jobs_per_s)} jobs/s (all ended ${f(r.all_jobs_ended_ms, 0)} ms); submit p50 ${f(r.submit_ms.p50)} ms, p99 ${f(r.submit_ms.p99)} ms; FAILED ${r.failed}, jobs ${r.jobs} (lost ${r.jobs_lost}, extra ${r.jobs_extra}, not SUCCEEDED ${r.jobs - r.jobs_succeeded}); launch ${f(r.launch_ms, 0)} ms; ` +
            `${r.connections ? `connections max ${r.connections.max_total} (active ${r.connections.max_active}); ` : ''}RSS ${f(r.rss_mib_max, 0)} MiB` +
            `${r.writes_per_exec ? `; per exec ${f(r.writes_per_exec.feed_transactions)} feed transactions, ${f(r.writes_per_exec.rows)} rows written` : ''}` +
            `${r.clusters_seen_by_other_replicas ? `; clusters listed by the other replica ${r.clusters_seen_by_other_replicas}` : ''}`,
        );
      }
    }
    const mixed = statusOnly ? [] : SETUPS;
    const per = Object.fromEntries(
      mixed.map((s) => {
        const mine = runs.filter((r) => r.setup === s.id);
        return [s.id, { jobs_per_s: byMedian(mine, (r) => r.jobs_per_s), submit_p50_ms: byMedian(mine, (r) => r.submit_ms.p50), submit_p99_ms: byMedian(mine, (r) => r.submit_ms.p99), failed: mine.reduce((n, r) => n + r.failed + r.jobs_lost + r.jobs_extra, 0), connections_max: Math.max(0, ...mine.map((r) => r.connections?.max_total ?? 0)), rss_mib_max: Math.max(...mine.map((r) => r.rss_mib_max)) }];
      }),
    );
    const ratio = (id) => (per[id] && per.level ? { jobs_per_s: per[id].jobs_per_s / per.level.jobs_per_s, submit_p99: per[id].submit_p99_ms / per.level.submit_p99_ms } : undefined);
    const ratios = { pg1: ratio('pg1'), pg2: ratio('pg2') };
    if (!statusOnly) console.log('mix, median of the rounds:');
    for (const s of mixed) {
      const p = per[s.id];
      const r = ratios[s.id];
      console.log(`  ${s.label.padEnd(14)} ${f(p.jobs_per_s)} jobs/s, submit p50 ${f(p.submit_p50_ms)} ms, p99 ${f(p.submit_p99_ms)} ms, failed/lost/extra ${p.failed}${r ? `; vs LevelDB: jobs/s ×${f(r.jobs_per_s, 2)}, p99 ×${f(r.submit_p99, 2)}` : ''}`);
    }
    const st = mixOnly ? undefined : await status();
    if (st) {
      console.log(
        `status: sky status -u with ${st.clusters} clusters of ${st.users} users, median of ${st.postgres.runs} interleaved: PostgreSQL ${f(st.postgres.median, 0)} ms (p90 ${f(st.postgres.p90, 0)}), LevelDB ${f(st.level.median, 0)} ms (p90 ${f(st.level.p90, 0)}); ` +
          `target ≤ ${STATUS_TARGET_MS} ms on PostgreSQL: ${st.postgres.median <= STATUS_TARGET_MS ? 'met' : 'NOT met'}; connections max ${st.connections.max_total}`,
      );
      console.log(`status: node -e 0 in the same rounds (${st.node_floor.env}): median ${f(st.node_floor.median, 0)} ms`);
      if (st.baseline) console.log(`status: baseline ${st.baseline.cli} in the same rounds: PostgreSQL ${f(st.baseline.postgres.median, 0)} ms, LevelDB ${f(st.baseline.level.median, 0)} ms`);
    }
    load.push(loadavg()[0]);
    console.log(`1-minute load average: ${f(load[0], 2)} before, ${f(load[1], 2)} after`);
    if (jsonFile !== undefined) {
      const metric = (id, label, value, unit, better, target) => ({ id: `postgres.${id}`, label, value, unit, better, ...(target ? { target } : {}) });
      const metrics = [
        ...mixed.flatMap((s) => [
          metric(`mix.${s.id}.jobs_per_s`, `launch/exec mix, ${s.label}: jobs/s`, per[s.id].jobs_per_s, '/s', 'higher'),
          metric(`mix.${s.id}.submit_p99`, `launch/exec mix, ${s.label}: submit p99`, per[s.id].submit_p99_ms, 'ms', 'lower'),
        ]),
        ...(ratios.pg2 ? [metric('mix.pg2.ratio_jobs_per_s', 'launch/exec mix, PostgreSQL ×2 / LevelDB: jobs/s', ratios.pg2.jobs_per_s, '×', 'higher')] : []),
        ...(st
          ? [
              metric('status.cli.median', `sky status -u, ${st.clusters} clusters on PostgreSQL, median`, st.postgres.median, 'ms', 'lower', { op: '<=', value: STATUS_TARGET_MS }),
              metric('status.cli.level.median', `sky status -u, ${st.clusters} clusters on LevelDB (same run), median`, st.level.median, 'ms', 'lower'),
              metric('status.node_floor.median', `node -e 0 in the same rounds (${st.node_floor.env}), median`, st.node_floor.median, 'ms', 'lower'),
            ]
          : []),
      ];
      mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
      writeFileSync(jsonFile, JSON.stringify({ bench: 'postgres', quick, settings, clients: CLIENTS, clusters: CLUSTERS, execs: EXECS, runs: runs.map(({ ...r }) => r), per_setup: per, ratios, status: st, load_average: load, metrics }, null, 2) + '\n');
    }
    if (runs.some((r) => r.failed > 0 || r.jobs_lost > 0 || r.jobs_extra > 0 || r.jobs !== r.jobs_succeeded)) {
      console.error('bench: requests failed, or jobs were lost, run twice or did not succeed');
      process.exitCode = 1;
    }
  } finally {
    await cleanup();
    await admin.end();
  }
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err}`);
  cleanup()
    .catch(() => {})
    .finally(() => process.exit(1));
});
