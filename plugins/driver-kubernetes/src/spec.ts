import type { V1ConfigMap, V1ContainerPort, V1OwnerReference, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import type { ResourceRequest } from '@sky/plugin-api';
import type { KubeDriverConfig } from './config.js';
import {
  ANNOTATION_CLUSTER_ID,
  ANNOTATION_CLUSTER_NAME,
  ANNOTATION_OWNER,
  ANNOTATION_OWNER_NAME,
  ANNOTATION_WORKSPACE,
  LABEL_CLUSTER,
  LABEL_CLUSTER_ID,
  LABEL_MANAGED_BY,
  LABEL_OWNER,
  LABEL_RANK,
  LABEL_WORKSPACE,
  MANAGED_BY,
  labelValue,
  podName,
  secretName,
  serviceName,
} from './names.js';
import { cpuQuantity, memoryQuantity } from './quantity.js';

/** The GPU resource name requested for accelerators. */
export const GPU_RESOURCE = 'nvidia.com/gpu';
export const DEFAULT_CPUS = 1;
export const DEFAULT_MEMORY_GB = 2;
/** Where the pod's SSH secret and the copied sshd are mounted in the node container. */
export const SSH_MOUNT = '/etc/sky-ssh';
export const BIN_MOUNT = '/sky-bin';
/** Where the runtime image keeps its static sshd. */
export const RUNTIME_SSHD = '/sky/sshd';
/**
 * Capabilities added back (after dropping ALL) when sshd runs as root: switching to the login
 * user (SETUID, SETGID), its privilege-separation chroot (SYS_CHROOT), handing the session's pty
 * to the user (CHOWN, FOWNER), login records (AUDIT_WRITE), and NET_BIND_SERVICE for a port below 1024.
 */
export const SSHD_CAPABILITIES = ['CHOWN', 'FOWNER', 'SETUID', 'SETGID', 'SYS_CHROOT', 'AUDIT_WRITE'];

/** Who and what a cluster is, for labels and annotations. */
export interface ClusterIdentity {
  clusterId: string;
  clusterName: string;
  owner: string;
  ownerName?: string;
  workspace?: string;
  /** `sky-<name>-<hash8>`: the owner ConfigMap's name and the prefix of every other name. */
  base: string;
  namespace: string;
}

type Settings = Pick<KubeDriverConfig, 'image' | 'runtimeImage' | 'sshPort' | 'labels' | 'annotations' | 'runAsUser'>;

export function clusterLabels(id: ClusterIdentity): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_CLUSTER_ID]: labelValue(id.clusterId),
    [LABEL_CLUSTER]: labelValue(id.clusterName),
    [LABEL_OWNER]: labelValue(id.owner),
    [LABEL_WORKSPACE]: labelValue(id.workspace ?? 'default'),
  };
}

/** The label selector of everything of one cluster. */
export function clusterSelector(clusterId: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_CLUSTER_ID}=${labelValue(clusterId)}`;
}

function clusterAnnotations(id: ClusterIdentity): Record<string, string> {
  const out: Record<string, string> = {
    [ANNOTATION_CLUSTER_ID]: id.clusterId,
    [ANNOTATION_CLUSTER_NAME]: id.clusterName,
    [ANNOTATION_OWNER]: id.owner,
  };
  if (id.ownerName !== undefined) out[ANNOTATION_OWNER_NAME] = id.ownerName;
  if (id.workspace !== undefined) out[ANNOTATION_WORKSPACE] = id.workspace;
  return out;
}

/** The cluster's owner object: a ConfigMap holding its identity; deleting it cascades to the rest. */
export function ownerConfigMap(id: ClusterIdentity): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: id.base, namespace: id.namespace, labels: clusterLabels(id), annotations: clusterAnnotations(id) },
    data: {
      clusterId: id.clusterId,
      clusterName: id.clusterName,
      owner: id.owner,
      workspace: id.workspace ?? 'default',
    },
  };
}

export function ownerReference(owner: { name: string; uid: string }): V1OwnerReference {
  return { apiVersion: 'v1', kind: 'ConfigMap', name: owner.name, uid: owner.uid, blockOwnerDeletion: true };
}

/** The SSH keys of one pod. */
export interface PodKeys {
  hostPrivate: string;
  hostPublic: string;
  authorizedKeys: string;
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** The Secret mounted as volume `sky-ssh` in pod `rank`: host key pair and the daemon's public key. */
export function podSecret(id: ClusterIdentity, rank: number, owner: V1OwnerReference, keys: PodKeys): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: secretName(id.base, rank),
      namespace: id.namespace,
      labels: { ...clusterLabels(id), [LABEL_RANK]: String(rank) },
      annotations: clusterAnnotations(id),
      ownerReferences: [owner],
    },
    data: {
      ssh_host_ed25519_key: b64(keys.hostPrivate.endsWith('\n') ? keys.hostPrivate : `${keys.hostPrivate}\n`),
      'ssh_host_ed25519_key.pub': b64(`${keys.hostPublic}\n`),
      authorized_keys: b64(`${keys.authorizedKeys}\n`),
    },
  };
}

/** The node container's command: run the copied sshd in the foreground with the secret's keys. */
export function sshdCommand(sshPort: number): string {
  return [
    'mkdir -p /run/sshd 2>/dev/null;',
    `exec ${BIN_MOUNT}/sshd -D -e -p ${sshPort}`,
    `-h ${SSH_MOUNT}/ssh_host_ed25519_key`,
    `-o AuthorizedKeysFile=${SSH_MOUNT}/authorized_keys`,
    '-o StrictModes=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=prohibit-password -o PidFile=none',
  ].join(' ');
}

/** The GPU a pod asks for: the first alternative of the request. */
export function chosenAccelerator(resources: ResourceRequest): { name: string; count: number } | undefined {
  return resources.accelerators?.[0];
}

/** The pod of node `rank`. `gpuLabelKey` is the node label that carries the GPU type on this context's nodes. */
export function nodePod(id: ClusterIdentity, rank: number, owner: V1OwnerReference, resources: ResourceRequest, settings: Settings, gpuLabelKey: string): V1Pod {
  const name = podName(id.base, rank);
  const cpus = resources.cpus?.min ?? DEFAULT_CPUS;
  const memoryGb = resources.memoryGb?.min ?? DEFAULT_MEMORY_GB;
  const amounts: Record<string, string> = { cpu: cpuQuantity(cpus), memory: memoryQuantity(memoryGb) };
  const gpu = chosenAccelerator(resources);
  if (gpu !== undefined && gpu.count > 0) amounts[GPU_RESOURCE] = String(Math.ceil(gpu.count));
  const ports: V1ContainerPort[] = [{ name: 'ssh', containerPort: settings.sshPort, protocol: 'TCP' }];
  for (const port of resources.ports ?? []) {
    if (port !== settings.sshPort) ports.push({ name: `p-${port}`, containerPort: port, protocol: 'TCP' });
  }
  const asRoot = settings.runAsUser === undefined;
  const add = asRoot ? [...SSHD_CAPABILITIES, ...(settings.sshPort < 1024 ? ['NET_BIND_SERVICE'] : [])] : [];
  const userLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(resources.labels ?? {})) userLabels[k] = v;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: id.namespace,
      labels: { ...settings.labels, ...userLabels, ...clusterLabels(id), [LABEL_RANK]: String(rank) },
      annotations: { ...settings.annotations, ...clusterAnnotations(id) },
      ownerReferences: [owner],
    },
    spec: {
      hostname: name,
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(gpu !== undefined ? { nodeSelector: { [gpuLabelKey]: gpu.name } } : {}),
      securityContext: asRoot ? {} : { runAsNonRoot: true, runAsUser: settings.runAsUser, runAsGroup: settings.runAsUser, fsGroup: settings.runAsUser },
      volumes: [
        { name: 'sky-ssh', secret: { secretName: secretName(id.base, rank), defaultMode: 0o400 } },
        { name: 'sky-bin', emptyDir: {} },
      ],
      initContainers: [
        {
          name: 'sky-sshd-install',
          image: settings.runtimeImage,
          command: ['/bin/sh', '-c', `cp ${RUNTIME_SSHD} ${BIN_MOUNT}/sshd && chmod 0555 ${BIN_MOUNT}/sshd`],
          volumeMounts: [{ name: 'sky-bin', mountPath: BIN_MOUNT }],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
      containers: [
        {
          name: 'sky',
          image: resources.image ?? settings.image,
          command: ['/bin/sh', '-c', sshdCommand(settings.sshPort)],
          ports,
          resources: { requests: { ...amounts }, limits: { ...amounts } },
          volumeMounts: [
            { name: 'sky-ssh', mountPath: SSH_MOUNT, readOnly: true },
            { name: 'sky-bin', mountPath: BIN_MOUNT, readOnly: true },
          ],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], ...(add.length > 0 ? { add } : {}) } },
        },
      ],
    },
  };
}

/** The Service exposing the task's ports on the head pod. */
export function portsService(id: ClusterIdentity, owner: V1OwnerReference, ports: number[], type: KubeDriverConfig['portsServiceType']): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(id.base), namespace: id.namespace, labels: clusterLabels(id), annotations: clusterAnnotations(id), ownerReferences: [owner] },
    spec: {
      type,
      selector: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_CLUSTER_ID]: labelValue(id.clusterId), [LABEL_RANK]: '0' },
      ports: ports.map((port) => ({ name: `p-${port}`, port, targetPort: port, protocol: 'TCP' })),
    },
  };
}
