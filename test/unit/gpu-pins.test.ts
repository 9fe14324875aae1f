import 'reflect-metadata';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeRecord } from '@sky/protocol';
import { GpuPins } from '../../core/daemon/src/clusters/gpu-pins.js';
import { JobQueue } from '../../core/daemon/src/clusters/job-queue.js';
import { NodeRuntime } from '../../core/daemon/src/nodes/node-runtime.js';
import { TransportPool } from '../../core/daemon/src/nodes/transports.js';
import { alice, delay, inProcess, type InProcess } from '../helpers/in-process.js';

function gpuNode(rank: number, root: string, gpus: number[]): NodeRecord {
  return {
    id: `n${rank}`,
    rank,
    address: '127.0.0.1',
    reach: { kind: 'local', root, gpuIndices: gpus },
    resources: { cpus: 8, memoryGb: 32, accelerators: [{ name: 'H100', count: gpus.length }] },
  };
}

describe('GPU pinning', () => {
  it('hands out distinct devices per job and takes back what running jobs hold', () => {
    const pins = new GpuPins([gpuNode(0, '/x', [0, 1, 2]), gpuNode(1, '/y', [4, 5])]);
    pins.hold([[1], [4]]);
    assert.deepEqual(pins.take(2, 1), [[0], [5]]);
    assert.deepEqual(pins.take(1, 1), [[2]]);
    assert.deepEqual(pins.take(1, 0), [[]], 'a job without GPUs sees none');
    assert.deepEqual(new GpuPins([{ ...gpuNode(0, '/x', []), reach: { kind: 'local', root: '/x' } }]).take(1, 1), undefined, 'no pinning without indices');
  });

  describe('through the job queue on local nodes', () => {
    let p: InProcess;
    after(async () => p?.close());

    it('gives two 1-GPU jobs different CUDA_VISIBLE_DEVICES and queues a third until one ends', async () => {
      p = await inProcess();
      const root = join(p.dir, 'node0');
      mkdirSync(root, { recursive: true });
      const node = gpuNode(0, root, [0, 1]);
      const now = Date.now();
      const { record: cluster } = await p.store.clusters.create({
        name: 'gpu', clusterId: 'gpu-1', owner: alice.user, ownerName: alice.userName, workspace: 'default', driver: 'local', infra: 'local',
        status: 'UP', numNodes: 1, nodes: [node], resources: '1x local(H100:2)', driverState: null, launchedAt: now, updatedAt: now, lastActiveAt: now,
      });
      const queue = p.resolve(JobQueue);
      await new NodeRuntime().install(new TransportPool().for(node), 'node0');
      const demand = { cpus: 1, memoryGb: 0, accelerators: [{ name: 'H100', count: 1 }] };
      const spec = (run: string) => ({ run, envs: {}, secrets: {}, fileMounts: {} });
      const job = (run: string) => queue.submit(cluster, { user: alice.user, userName: alice.userName, numNodes: 1, demand }, spec(run));
      const queued = [await job('echo "gpus=$CUDA_VISIBLE_DEVICES"; sleep 3'), await job('echo "gpus=$CUDA_VISIBLE_DEVICES"; sleep 3'), await job('echo "gpus=$CUDA_VISIBLE_DEVICES"')];
      // A submit returns once the job is queued; the scheduling pass it asked for starts what fits.
      const current = () => Promise.all(queued.map((j) => p.store.jobs.get('gpu', j.id)));
      const onNodes = (s: string | undefined) => s === 'SETTING_UP' || s === 'RUNNING';
      for (let i = 0; i < 500 && (await current()).filter((j) => onNodes(j?.status)).length < 2; i++) await delay(20);
      const started = await current();
      const [a, b, c] = [started[0]!, started[1]!, started[2]!];
      assert.deepEqual([onNodes(a.status), onNodes(b.status), c.status], [true, true, 'PENDING']);
      assert.notDeepEqual(a.gpuIndices, b.gpuIndices);
      // The third may end before the second: it starts as soon as the first ends, and runs no sleep.
      for (let i = 0; i < 300 && !(await current()).every((j) => j?.status === 'SUCCEEDED'); i++) {
        await queue.reconcileOnce();
        await delay(100);
      }
      const done = await Promise.all([a, b, c].map((j) => p.store.jobs.get('gpu', j.id)));
      assert.deepEqual(done.map((j) => j?.status), ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      const seen = done.map((j) => j!.gpuIndices![0]![0]);
      assert.deepEqual(new Set([seen[0], seen[1]]), new Set([0, 1]));
      assert.ok([0, 1].includes(seen[2]!));
    });
  });
});
