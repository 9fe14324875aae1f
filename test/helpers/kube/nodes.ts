/**
 * Node registration as a kubelet does it: the Node object with its labels, then its status
 * (capacity = allocatable: cpu, memory, pods 110, `nvidia.com/gpu` when it has GPUs; Ready=True;
 * addresses), then the `not-ready` taint the TaintNodesByCondition admission put on it removed,
 * so the real scheduler binds pods to it. (No node-lifecycle controller runs, so nobody re-taints
 * a node without heartbeats.)
 */
import { seg, type KubeApi } from './api.js';

export interface FakeNodeSpec {
  name: string;
  cpus: number;
  memoryGi: number;
  gpus?: { count: number; product: string };
  labels?: Record<string, string>;
}

/** `kubeletPort`: where the node's kubelet streaming endpoint listens at `ip` (port-forward). */
export async function registerNode(api: KubeApi, node: FakeNodeSpec, ip: string, kubeletPort: number): Promise<void> {
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': node.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': 'amd64',
    ...(node.gpus ? { 'nvidia.com/gpu.product': node.gpus.product, 'nvidia.com/gpu.count': String(node.gpus.count) } : {}),
    ...node.labels,
  };
  const path = `/api/v1/nodes/${seg(node.name)}`;
  const created = await api.request('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: node.name, labels } }, { expectOk: false });
  if (created.status === 409) await api.request('PATCH', path, { metadata: { labels } });
  else if (created.status !== 201) throw new Error(`registering node ${node.name} answered ${created.status}: ${created.text}`);
  const resources: Record<string, string> = {
    cpu: String(node.cpus),
    memory: `${node.memoryGi}Gi`,
    pods: '110',
    'ephemeral-storage': '100Gi',
    ...(node.gpus ? { 'nvidia.com/gpu': String(node.gpus.count) } : {}),
  };
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const condition = (type: string, status: string, reason: string, message: string): Record<string, string> => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: t,
    lastTransitionTime: t,
  });
  await api.request('PATCH', `${path}/status`, {
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status (sky test harness)'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: node.name },
      ],
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: '',
        osImage: 'sky fake kubelet',
        containerRuntimeVersion: 'sky-fake://1',
        kubeletVersion: 'v1.20.2',
        kubeProxyVersion: 'v1.20.2',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  });
  await api.request('PATCH', path, { spec: { taints: null } });
}
