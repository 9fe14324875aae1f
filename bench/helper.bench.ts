/**
 * What running jobs as team members' OS accounts costs: the same node-runtime operations the
 * daemon performs per job, on a local node reached directly (LocalTransport, the personal
 * server) and on an account node reached through sky-node-helper (AccountTransport, the team
 * server), interleaved round by round so both see the same machine load:
 *
 *   - job start: the runtime probe, writing the job's files and `sky-node.sh start` (a real job, `true`)
 *   - status read: `sky-node.sh status` of one job (what the job monitor runs per node and poll)
 *   - log read: 64 KiB of a job log from an offset (what `sky logs` reads per poll)
 *
 *   TSX_TSCONFIG_PATH=test/tsconfig.json node --conditions=sky-source --import tsx bench/helper.bench.ts [--json FILE] [--quick]
 * Needs `npm run build` and root (the helper runs as root and creates a test account); the
 * helper, the account and its processes are removed at the end.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NodeHelperClient } from '@sky/plugin-api';
import { AccountTransport } from '../core/daemon/src/nodes/account-transport.js';
import { LocalTransport } from '../core/daemon/src/nodes/local-transport.js';
import { NodeRuntime, type RankSpec } from '../core/daemon/src/nodes/node-runtime.js';
import { RUNTIME_VERSION } from '@sky/runtime';
import type { NodeTransport } from '../core/daemon/src/nodes/transport.js';
import { startNodeHelper, type NodeHelperHandle } from '../test/helpers/node-helper.js';

const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const ROUNDS = args.includes('--quick') ? 10 : 40;
const WARMUP = 5;

if (process.getuid?.() !== 0) {
  console.error('helper bench: needs root (sky-node-helper runs as root and creates an account); skipped');
  process.exit(2);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function spec(jobId: string, home: string): RankSpec {
  return { jobId, rank: 0, nodeIps: ['127.0.0.1'], taskId: jobId, clusterInfo: { cluster_name: 'bench', cloud: 'local', region: null, zone: null }, run: 'true', envs: {}, secrets: {}, home };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

let helper: NodeHelperHandle | undefined;
let client: NodeHelperClient | undefined;
const directRoot = mkdtempSync(join(tmpdir(), 'sky-bench-direct-'));
try {
  helper = await startNodeHelper();
  client = new NodeHelperClient(helper.socket);
  const account = `${helper.prefix}bench`;
  await client.ensureAccount(account);
  const accountNode = join(helper.nodeRoot, account, 'bench', 'node-0');
  await client.makeNodeDir(account, accountNode);
  const runtime = new NodeRuntime();
  const sides: Array<{ name: 'direct' | 'helper'; transport: NodeTransport; home: string }> = [
    { name: 'direct', transport: new LocalTransport(directRoot), home: directRoot },
    { name: 'helper', transport: new AccountTransport(client, account, accountNode), home: accountNode },
  ];
  const samples: Record<string, Record<'direct' | 'helper', number[]>> = {
    start: { direct: [], helper: [] },
    status: { direct: [], helper: [] },
    read: { direct: [], helper: [] },
  };
  // A 1 MiB log on each side, for the reads.
  for (const side of sides) {
    await runtime.install(side.transport, side.name);
    await side.transport.writeFiles('.sky/jobs/logged', { log: 'x'.repeat(1024 * 1024) });
  }
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const jobId = `j${round}`;
      const start = await timed(async () => {
        await runtime.install(side.transport, side.name);
        await runtime.start(side.transport, side.name, spec(jobId, side.home), runtime.journalOf({ reach: { kind: 'local', root: side.home } }));
      });
      // The status of the first job (finished by now): what the monitor pays per node and poll.
      const status = await timed(() => runtime.status(side.transport, side.name, [{ job: 'j0', rank: 0, version: RUNTIME_VERSION }]));
      const read = await timed(() => side.transport.readFrom('.sky/jobs/logged/log', (round * 65536) % (1024 * 1024), 65536));
      if (round >= WARMUP) {
        samples['start']![side.name].push(start);
        samples['status']![side.name].push(status);
        samples['read']![side.name].push(read);
      }
    }
  }
  const rows = Object.entries(samples).map(([what, s]) => ({
    what,
    direct: median(s.direct),
    helper: median(s.helper),
    added: median(s.helper) - median(s.direct),
    ratio: median(s.helper) / median(s.direct),
  }));
  console.log(`${ROUNDS} interleaved rounds (after ${WARMUP} warm-up), medians:`);
  console.table(rows.map((r) => ({ operation: r.what, 'direct ms': r.direct.toFixed(2), 'helper ms': r.helper.toFixed(2), 'added ms': r.added.toFixed(2), ratio: r.ratio.toFixed(2) })));
  const labels: Record<string, string> = { start: 'job start (probe + files + start)', status: 'job status read', read: '64 KiB log read' };
  if (jsonFile) {
    mkdirSync(dirname(jsonFile), { recursive: true });
    writeFileSync(
      jsonFile,
      JSON.stringify(
        {
          bench: 'helper',
          rounds: ROUNDS,
          samples,
          metrics: rows.flatMap((r) => [
            { id: `helper.${r.what}.direct`, label: `${labels[r.what]}, direct local node, median`, value: r.direct, unit: 'ms', better: 'lower' },
            { id: `helper.${r.what}.account`, label: `${labels[r.what]}, account node via sky-node-helper, median`, value: r.helper, unit: 'ms', better: 'lower' },
            { id: `helper.${r.what}.added`, label: `${labels[r.what]}: added by the helper`, value: r.added, unit: 'ms', better: 'lower' },
          ]),
        },
        null,
        2,
      ),
    );
  }
} finally {
  await client?.close();
  await helper?.stop();
  rmSync(directRoot, { recursive: true, force: true });
}
