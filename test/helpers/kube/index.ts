/**
 * A Kubernetes for tests: a real control plane, and the harness playing the kubelet.
 *
 * REAL (the binaries of Kubernetes 1.20, built from Debian's source package by
 * scripts/kube-build.sh and cached per version; etcd from Debian's etcd-server):
 * - etcd (temp data dir, --unsafe-no-fsync) and kube-apiserver on 127.0.0.1, free ports; TLS with
 *   the API server's self-signed certificate, verified by every client (kubeconfigs carry its CA);
 * - authentication by static tokens (`admin` in system:masters; `limited`, `user-a`, `user-b` and
 *   any `users` option: authenticated, with no RBAC binding), authorization by RBAC (bindings the
 *   tests create are enforced, SelfSubjectAccessReviews answer truthfully), admission plugins;
 * - kube-scheduler (real binding, real Unschedulable reasons from resource requests, node
 *   selectors and extended resources such as `nvidia.com/gpu`);
 * - kube-controller-manager with the garbage collector (ownerReferences cascade on delete), the
 *   namespace, service-account and token controllers, replicaset, deployment, job, ... (the node
 *   lifecycle, node IPAM, cloud, route, service, attach/detach, volume expansion and CSR signing
 *   controllers are off: nothing here could serve them);
 * - watches, resourceVersions, the status subresource, server-side apply;
 * - an audit log (level Metadata) counting every API request by user, verb and resource;
 * - pod-IP reach: each pod's IP is a real address in a network namespace on a bridge this test
 *   process routes to, and SSH to <pod IP>:<ssh port> reaches the pod's own sshd with the host
 *   key and authorized_keys of the pod's Secret;
 * - port-forward through the API server: `pods/portforward` is authorized by RBAC, audited, and
 *   proxied by the API server (--kubelet-preferred-address-types=InternalIP, kubelet certificate
 *   not verified) to the node's kubelet endpoint (`status.daemonEndpoints.kubeletEndpoint.Port`
 *   at its InternalIP). The kubelet end of it is the harness's (below).
 *
 * SIMULATED (the harness plays the kubelet, fake-kubelet.ts; there is no kubelet binary):
 * - node registration: Node objects with capacity/allocatable (cpu, memory, pods 110, fake
 *   `nvidia.com/gpu` with a `nvidia.com/gpu.product` label), Ready=True, no heartbeats or leases;
 * - "containers": no image is pulled or run. Init containers succeed at once; container 0 is an
 *   sshd in the pod's network namespace on the container port named `ssh` (default 22), root
 *   logging in with a HOME of the pod's own, its hostname the pod's name (a UTS namespace of its
 *   own; the mount and PID namespaces are the machine's); the command, args and image are ignored
 *   (only literal `env` values of container 0 are exported to login shells); images listed in
 *   `unpullableImages` report ErrImagePull, then ImagePullBackOff;
 * - secret volumes (fetched through the API and written to a per-pod dir); other volumes ignored;
 * - pod status (Running, podIP, conditions, container statuses), eviction (`evict`), container
 *   exit (`crash`), and finishing a graceful deletion (kill, then delete with grace period 0);
 * - the kubelet's streaming endpoint, port-forward only (kubelet-streaming.ts): an HTTPS server
 *   per node on its InternalIP (an address the harness gives the pod bridge), self-signed, speaking
 *   the WebSocket port-forward protocol (`v4.channel.k8s.io`; no SPDY, so clients must use
 *   WebSockets as client-node does) and connecting each stream to <pod IP>:<port> from the node's
 *   address; exec, attach and logs through the API server do NOT work here;
 * - `isolatePods`: an `ip rule` lets only the node addresses reach the pod network, so anything
 *   else on this machine (a daemon) gets EACCES at a pod IP and must use port-forward;
 * - no kube-proxy and no DNS: Services are real API objects (a ClusterIP is allocated) but
 *   nothing forwards their traffic; no node heartbeats or Leases (nobody watches them here).
 *
 * Good to know when writing tests: a new namespace accepts pods only once the controller manager
 * made its `default` service account (`createNamespace` waits for it); the audit log records a
 * watch only when it ends (count open watches with `metric('apiserver_longrunning_gauge', ...)`);
 * the control plane's API clients are users of their own (`system:kube-controller-manager`,
 * `system:kube-scheduler`, `sky-fake-kubelet`), so counts per user are not mixed up with the
 * driver's.
 *
 * Needs root (network namespaces). Binaries: SKY_KUBE_BIN, or scripts/kube-build.sh (under CI it
 * builds when needed and never skips; elsewhere a missing build skips, see binaries.ts).
 */
export { kubeBinaries, type KubeBinaries } from './binaries.js';
export { startKubeControlPlane, cleanupStaleControlPlanes, BUILTIN_USERS, type ControlPlaneOptions, type KubeControlPlane } from './control-plane.js';
export { startFakeKubelet, cleanupStaleKubelets, type FakeKubelet, type FakeKubeletOptions, type FakePod, type FakePodState } from './fake-kubelet.js';
export type { FakeNodeSpec } from './nodes.js';
export type { KubeconfigContext, KubeconfigOptions } from './kubeconfig.js';
export type { AuditEvent, AuditFilter } from './audit.js';
export { KubeApi, type KubeAnswer, type KubeList, type KubeObject, type WatchEvent } from './api.js';
export type { Pod, PodContainer } from './pod-status.js';
export { sshPodFixture, type SshPodFixture } from './pod-fixture.js';
