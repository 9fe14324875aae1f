import { setMaxListeners } from 'node:events';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type {
  DriverCallOptions,
  DriverCapacity,
  FeasibilityRequest,
  JsonValue,
  NodeHandle,
  NodeStatusReport,
  PluginDocuments,
  PluginLogger,
  ProvisionRequest,
  ProvisionedCluster,
  TargetCheck,
} from '@sky/plugin-api';
import { describeResources } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';
import type { Duplex } from 'node:stream';
import { namespaceFor, type KubeDriverConfig, type ReachMode } from './config.js';
import { Contexts, withSignal, type ContextClient } from './contexts.js';
import { abortable, apiError, apiFailure, isConflict, isNotFound } from './errors.js';
import { ClusterKeys, ed25519, keyWithoutComment } from './keys.js';
import { clusterBaseName, nodeId, podName, secretName, serviceName, ANNOTATION_CLUSTER_ID } from './names.js';
import { capacityOf, gpuLabelKeyOf, infeasibility, nodeViews, targetNode, type NodeView } from './nodes.js';
import { PodCaches } from './pod-cache.js';
import { nodeStatus } from './pod-state.js';
import { clusterSelector, nodePod, ownerConfigMap, ownerReference, podSecret, portsService, type ClusterIdentity } from './spec.js';
import { waitForPods, waitForTcp } from './wait.js';
import { requiredPermissions } from './permissions.js';
import { openPortForward, parseTunnelId, tunnelId, waitForTunnel } from './tunnel.js';

/** What the driver keeps in ProvisionedCluster.state. */
export interface KubeClusterState {
  context: string;
  namespace: string;
  base: string;
  clusterId: string;
  owner: { name: string; uid: string };
  pods: string[];
  reach: ReachMode;
}

export function readState(state: JsonValue): KubeClusterState {
  const s = state as Partial<KubeClusterState> | null;
  if (s === null || typeof s !== 'object' || typeof s.context !== 'string' || typeof s.namespace !== 'string' || !Array.isArray(s.pods) || typeof s.base !== 'string') {
    throw new SkyError('DRIVER_FAILED', 'this cluster was not made by the Kubernetes driver (its state has no context, namespace and pods)', {
      hint: 'Terminate it with the driver that made it.',
    });
  }
  return s as KubeClusterState;
}

export interface KubeDriverOptions {
  config: KubeDriverConfig;
  dataDir: string;
  /** Where the cluster keys are kept when the store is shared by replicas (PluginContext.documents). */
  documents?: PluginDocuments | undefined;
  logger: PluginLogger;
}

/** How long terminate and a failed provision wait for the pods to be gone. */
const TEARDOWN_MS = 60_000;
const CHECK_TIMEOUT_MS = 5_000;
/**
 * How long the nodes' shapes (allocatable resources and labels, not what is used) read for a
 * launch's feasibility check serve its provision too: one list of nodes per launch, not two.
 */
const SHAPES_TTL_MS = 10_000;

/**
 * The Kubernetes driver: each node of a cluster is a pod, reached over SSH at its pod IP
 * (`reach: pod-ip`) or through the API server's port-forward (`reach: port-forward`, openTunnel).
 */
export class KubernetesDriver {
  readonly terminateEndsJobs = true as const;
  private readonly contexts: Contexts;
  private readonly caches = new PodCaches();
  /** Node shapes per context, read by a launch's feasibility check and reused by its provision (nodeShapes). */
  private readonly shapes = new Map<string, { at: number; views: NodeView[] }>();
  private readonly keys: ClusterKeys;

  constructor(private readonly opts: KubeDriverOptions) {
    this.contexts = new Contexts(opts.config);
    this.keys = new ClusterKeys(opts.dataDir, opts.documents);
  }

  /** The allowed contexts (the first is the default). */
  allowedContexts(): string[] {
    return this.contexts.allowed();
  }

  async close(): Promise<void> {
    await this.caches.close();
  }

  // ---- nodes --------------------------------------------------------------------------------

  /** Nodes of a context with what is requested on them; undefined when nodes may not be listed. */
  private async views(client: ContextClient, signal: AbortSignal): Promise<{ views: NodeView[] | undefined; detail?: string }> {
    let nodes: V1Node[];
    try {
      nodes = (await abortable(client.core.listNode({}, withSignal(signal)), signal, 'listing nodes')).items;
    } catch (error) {
      if (error instanceof SkyError) throw error;
      if (apiFailure(error).code === 403) return { views: undefined, detail: `context ${client.context}: may not list nodes (cluster-wide), so capacity and GPU types are unknown` };
      throw apiError(error, { verb: 'list', resource: 'nodes', context: client.context, server: client.server });
    }
    let pods: V1Pod[] = [];
    let detail: string | undefined;
    try {
      pods = (
        await abortable(
          client.core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }, withSignal(signal)),
          signal,
          'listing pods',
        )
      ).items;
    } catch (error) {
      if (error instanceof SkyError) throw error;
      detail = `context ${client.context}: may not list pods in all namespaces, so free capacity counts only what is known`;
    }
    return { views: nodeViews(nodes, pods, this.opts.config.gpuLabelKeys), detail };
  }

  /**
   * The nodes of a context as far as "could any node ever hold this" and the GPU label key need
   * them: allocatable resources and labels, no usage (so no list of every pod). Kept for
   * SHAPES_TTL_MS; undefined views when nodes may not be listed.
   */
  private async nodeShapes(client: ContextClient, signal: AbortSignal): Promise<NodeView[] | undefined> {
    const hit = this.shapes.get(client.context);
    if (hit !== undefined && Date.now() - hit.at < SHAPES_TTL_MS) return hit.views;
    let nodes: V1Node[];
    try {
      nodes = (await abortable(client.core.listNode({}, withSignal(signal)), signal, 'listing nodes')).items;
    } catch (error) {
      if (error instanceof SkyError) throw error;
      if (apiFailure(error).code === 403) return undefined;
      throw apiError(error, { verb: 'list', resource: 'nodes', context: client.context, server: client.server });
    }
    const views = nodeViews(nodes, [], this.opts.config.gpuLabelKeys);
    this.shapes.set(client.context, { at: Date.now(), views });
    return views;
  }

  async capacity(opts: DriverCallOptions): Promise<DriverCapacity> {
    const total = { cpus: 0, memoryGb: 0, accelerators: [] as { name: string; count: number }[] };
    const free = { cpus: 0, memoryGb: 0, accelerators: [] as { name: string; count: number }[] };
    const details: string[] = [];
    for (const context of this.contexts.allowed()) {
      try {
        const { views, detail } = await this.views(this.contexts.client(context), opts.signal);
        if (detail !== undefined) details.push(detail);
        if (views === undefined) continue;
        const c = capacityOf(views);
        for (const [into, from] of [
          [total, c.total],
          [free, c.free],
        ] as const) {
          into.cpus += from.cpus;
          into.memoryGb += from.memoryGb;
          for (const a of from.accelerators) {
            const e = into.accelerators.find((x) => x.name === a.name);
            if (e !== undefined) e.count += a.count;
            else into.accelerators.push({ ...a });
          }
        }
      } catch (error) {
        if (error instanceof SkyError && error.code === 'CANCELLED') throw error;
        details.push(`context ${context}: ${(error as Error).message}`);
      }
    }
    return { total, free, detail: details.length > 0 ? details.join('; ') : `free: ${describeResources(free)}` };
  }

  async feasible(req: FeasibilityRequest, opts: DriverCallOptions): Promise<string[]> {
    const contexts = req.infra !== undefined && req.infra !== '' ? [req.infra] : this.contexts.allowed();
    if (contexts.length === 0) return ['the kubeconfig has no current context and drivers.k8s.allowed_contexts is not set'];
    const problems: string[] = [];
    for (const context of contexts) {
      const refusal = this.contexts.refusal(context);
      if (refusal !== undefined) {
        problems.push(refusal);
        continue;
      }
      let views: NodeView[] | undefined;
      try {
        views = await this.nodeShapes(this.contexts.client(context), opts.signal);
      } catch (error) {
        if (error instanceof SkyError && error.code === 'CANCELLED') throw error;
        return []; // unreachable now: provision will say so
      }
      if (views === undefined) return [];
      const lines = infeasibility(views, req, context);
      if (lines.length === 0) return [];
      problems.push(...lines);
    }
    return problems;
  }

  // ---- provision ----------------------------------------------------------------------------

  async provision(req: ProvisionRequest, opts: DriverCallOptions): Promise<ProvisionedCluster> {
    const named = req.infra !== undefined && req.infra !== '';
    const contexts = named ? [req.infra as string] : this.contexts.allowed();
    if (contexts.length === 0) {
      throw new SkyError('DRIVER_FAILED', 'the kubeconfig has no current context and drivers.k8s.allowed_contexts is not set', {
        hint: 'Set a current context (kubectl config use-context) or list contexts in drivers.k8s.allowed_contexts.',
      });
    }
    const full: string[] = [];
    for (const context of contexts) {
      try {
        return await this.provisionIn(this.contexts.client(context), req, opts);
      } catch (error) {
        if (!(error instanceof SkyError) || error.code !== 'NO_CAPACITY' || contexts.length === 1) throw error;
        full.push(error.message);
        opts.log(`${error.message}; trying the next context`);
      }
    }
    throw new SkyError('NO_CAPACITY', `no allowed Kubernetes context can hold ${req.numNodes} node(s): ${full.join('; ')}`, {
      hint: 'Free capacity, ask for less, or add contexts to drivers.k8s.allowed_contexts.',
    });
  }

  private async provisionIn(client: ContextClient, req: ProvisionRequest, opts: DriverCallOptions): Promise<ProvisionedCluster> {
    const { config } = this.opts;
    const context = client.context;
    const namespace = namespaceFor(config, context, req.workspace);
    const views = await this.nodeShapes(client, opts.signal);
    if (views !== undefined) {
      const problems = infeasibility(views, req, context);
      if (problems.length > 0) {
        throw new SkyError('NO_CAPACITY', `no node of Kubernetes context ${context} can ever hold this request: ${problems.join('; ')}`, {
          hint: 'Ask for a node size, GPU type or count that the cluster has (`sky show-gpus --infra k8s`).',
          details: { context },
        });
      }
    }
    const gpuKey = views === undefined ? (config.gpuLabelKeys[0] ?? 'nvidia.com/gpu.product') : gpuLabelKeyOf(views, config.gpuLabelKeys);
    const base = clusterBaseName(req.clusterName, req.clusterId);
    const id: ClusterIdentity = { clusterId: req.clusterId, clusterName: req.clusterName, owner: req.owner, ownerName: req.ownerName, workspace: req.workspace, base, namespace };
    const names = Array.from({ length: req.numNodes }, (_, rank) => podName(base, rank));
    const cache = this.caches.get(client, namespace);
    await abortable(cache.ready(), opts.signal, 'starting the pod watch');
    const problem = cache.problem();
    if (problem !== undefined) throw new SkyError('DRIVER_FAILED', problem, { hint: 'Check the context with `sky check k8s`.' });
    const clientKey = await this.keys.ensure(req.clusterId, opts.signal);
    const site = (verb: string, resource: string) => ({ verb, resource, namespace, context, server: client.server });
    const call = <T>(verb: string, resource: string, p: Promise<T>): Promise<T> =>
      abortable(p, opts.signal, `${verb} ${resource}`).catch((error: unknown) => {
        throw error instanceof SkyError ? error : apiError(error, site(verb, resource));
      });
    const o = withSignal(opts.signal);
    let owner: { name: string; uid: string } | undefined;
    try {
      // The owner object: everything else carries an ownerReference to it.
      const cm = await call('create', 'configmaps', client.core.createNamespacedConfigMap({ namespace, body: ownerConfigMap(id) }, o)).catch(async (error: unknown) => {
        if (!(error instanceof SkyError) || !isConflict(error.cause)) throw error;
        return call('get', 'configmaps', client.core.readNamespacedConfigMap({ name: base, namespace }, o));
      });
      if (cm.metadata?.annotations?.[ANNOTATION_CLUSTER_ID] !== req.clusterId) {
        throw new SkyError('DRIVER_FAILED', `ConfigMap ${base} in namespace ${namespace} of context ${context} belongs to another cluster`, {
          hint: `Delete it (kubectl -n ${namespace} delete configmap ${base}) if nothing uses it.`,
        });
      }
      owner = { name: base, uid: cm.metadata?.uid ?? '' };
      const ref = ownerReference(owner);
      const hostKeys: string[] = [];
      for (let rank = 0; rank < req.numNodes; rank++) {
        const host = ed25519(`${names[rank]}`);
        const secret = podSecret(id, rank, ref, { hostPrivate: host.private, hostPublic: host.public, authorizedKeys: clientKey.public });
        const created = await call('create', 'secrets', client.core.createNamespacedSecret({ namespace, body: secret }, o)).catch(async (error: unknown) => {
          if (!(error instanceof SkyError) || !isConflict(error.cause)) throw error;
          return call('get', 'secrets', client.core.readNamespacedSecret({ name: secretName(base, rank), namespace }, o));
        });
        const pub = Buffer.from(created.data?.['ssh_host_ed25519_key.pub'] ?? '', 'base64').toString('utf8');
        hostKeys.push(keyWithoutComment(pub));
      }
      let createdPods = 0;
      for (let rank = 0; rank < req.numNodes; rank++) {
        const pod = nodePod(id, rank, ref, req.resources, config, gpuKey);
        await call('create', 'pods', client.core.createNamespacedPod({ namespace, body: pod }, o)).then(
          () => createdPods++,
          (error: unknown) => {
            if (!(error instanceof SkyError) || !isConflict(error.cause)) throw error;
          },
        );
      }
      opts.log(`created ${createdPods} pod(s) in namespace ${namespace} of context ${context}${createdPods < req.numNodes ? ` (${req.numNodes - createdPods} already there)` : ''}`);
      const ports = req.resources.ports ?? [];
      if (ports.length > 0) {
        await call('create', 'services', client.core.createNamespacedService({ namespace, body: portsService(id, ref, ports, config.portsServiceType) }, o)).catch((error: unknown) => {
          if (!(error instanceof SkyError) || !isConflict(error.cause)) throw error;
        });
        opts.log(`service ${serviceName(base)} (${config.portsServiceType}) exposes ports ${ports.join(', ')} of the head pod`);
      }
      opts.log('waiting for the scheduler and the pods to start');
      const ips = await waitForPods(cache, names, { context, timeoutMs: config.provisionTimeoutMs, signal: opts.signal, log: opts.log });
      const sshWaitMs = Math.min(config.provisionTimeoutMs, 120_000);
      if (config.reach === 'port-forward') {
        await Promise.all(
          names.map((name) =>
            waitForTunnel((signal) => openPortForward(client.kc, namespace, name, config.sshPort, signal), `pod ${name}`, sshWaitMs, opts.signal),
          ),
        );
        opts.log(`sshd answers through the API server's port-forward on ${names.length} pod(s)`);
      } else {
        await Promise.all(ips.map((ip) => waitForTcp(ip, config.sshPort, sshWaitMs, opts.signal)));
        opts.log(`sshd answers on ${ips.length} pod(s)`);
      }
      const nodes: NodeHandle[] = names.map((name, rank) => ({
        id: nodeId(context, namespace, name),
        rank,
        address: ips[rank] ?? '',
        reach: {
          kind: 'ssh',
          host: ips[rank] ?? '',
          port: config.sshPort,
          user: config.runAsUser === undefined ? 'root' : String(config.runAsUser),
          ...this.keys.reachOf(req.clusterId),
          hostKeys: [hostKeys[rank] ?? ''],
          ...(config.reach === 'port-forward' ? { tunnel: tunnelId(context, namespace, name) } : {}),
        },
        resources: {
          cpus: req.resources.cpus?.min ?? 1,
          memoryGb: req.resources.memoryGb?.min ?? 2,
          accelerators: req.resources.accelerators?.[0] === undefined ? [] : [{ ...req.resources.accelerators[0] }],
        },
      }));
      const state: KubeClusterState = { context, namespace, base, clusterId: req.clusterId, owner, pods: names, reach: config.reach };
      return { nodes, state: state as unknown as JsonValue };
    } catch (error) {
      opts.log(`provisioning in context ${context} failed; removing what was created`);
      const undo = AbortSignal.timeout(TEARDOWN_MS);
      await this.teardown(client, namespace, base, req.clusterId, undo).catch((e: unknown) => {
        this.opts.logger.warn({ context, namespace, base }, `could not remove a failed cluster: ${(e as Error).message}`);
      });
      await this.keys.remove(req.clusterId).catch(() => undefined);
      throw error;
    }
  }

  // ---- tunnels (reach: port-forward) --------------------------------------------------------

  /**
   * Plugin API TunnelExtension: a stream to `port` of the pod named by `tunnel`
   * (`<context>/<namespace>/<pod>`, from a node's reach) through the API server's port-forward.
   */
  async openTunnel(tunnel: string, port: number, opts: { signal: AbortSignal }): Promise<Duplex> {
    const target = parseTunnelId(tunnel);
    if (target === undefined) {
      throw new SkyError('NODE_UNREACHABLE', `${JSON.stringify(tunnel)} is not a Kubernetes tunnel id (<context>/<namespace>/<pod>)`, {
        hint: 'The node was not made by this driver; terminate it with the driver that made it.',
      });
    }
    const client = this.contexts.client(target.context);
    return openPortForward(client.kc, target.namespace, target.pod, port, opts.signal);
  }

  // ---- status, stop, start, terminate -------------------------------------------------------

  async status(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<NodeStatusReport[]> {
    const state = readState(cluster.state);
    const unreachable = (reason: string): NodeStatusReport[] => cluster.nodes.map((n) => ({ nodeId: n.id, status: 'UNREACHABLE', reason }));
    let client: ContextClient;
    try {
      client = this.contexts.client(state.context);
    } catch (error) {
      return unreachable((error as Error).message);
    }
    const cache = this.caches.get(client, state.namespace);
    await abortable(cache.ready(), opts.signal, 'starting the pod watch');
    const problem = cache.problem();
    if (problem !== undefined) return unreachable(problem);
    return cluster.nodes.map((node) => nodeStatus(node.id, cache.pod(state.pods[node.rank] ?? node.id.split('/').pop() ?? ''), node.address));
  }

  stop(): Promise<void> {
    return Promise.reject(
      new SkyError('NOT_SUPPORTED', 'Kubernetes pods cannot be stopped and started again', { hint: 'Use `sky down` to terminate the cluster, and launch it again later.' }),
    );
  }

  start(): Promise<ProvisionedCluster> {
    return Promise.reject(
      new SkyError('NOT_SUPPORTED', 'Kubernetes pods cannot be stopped and started again', { hint: 'Use `sky down` to terminate the cluster, and launch it again later.' }),
    );
  }

  async terminate(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<void> {
    const state = readState(cluster.state);
    const client = this.contexts.client(state.context);
    await this.teardown(client, state.namespace, state.base, state.clusterId, opts.signal);
    opts.log(`deleted the pods of cluster ${state.base} in namespace ${state.namespace} of context ${state.context}`);
    await this.keys.remove(state.clusterId);
  }

  /** Delete the owner (cascading), every object labelled with the cluster id, and wait until the pods are gone. */
  private async teardown(client: ContextClient, namespace: string, base: string, clusterId: string, signal: AbortSignal): Promise<void> {
    const context = client.context;
    const o = withSignal(signal);
    const selector = clusterSelector(clusterId);
    const gone = (p: Promise<unknown>, verb: string, resource: string): Promise<void> =>
      abortable(p, signal, `${verb} ${resource}`).then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof SkyError) throw error;
          if (isNotFound(error)) return;
          throw apiError(error, { verb, resource, namespace, context, server: client.server });
        },
      );
    const cache = this.caches.get(client, namespace);
    await abortable(cache.ready(), signal, 'starting the pod watch');
    await gone(client.core.deleteNamespacedConfigMap({ name: base, namespace, propagationPolicy: 'Background' }, o), 'delete', 'configmaps');
    // Pods go at once (grace 0): nothing on a node outlives its cluster, and no kubelet need confirm.
    await gone(client.core.deleteCollectionNamespacedPod({ namespace, labelSelector: selector, gracePeriodSeconds: 0 }, o), 'deletecollection', 'pods');
    await gone(client.core.deleteCollectionNamespacedSecret({ namespace, labelSelector: selector }, o), 'deletecollection', 'secrets');
    await gone(client.core.deleteNamespacedService({ name: serviceName(base), namespace }, o), 'delete', 'services');
    await this.podsGone(cache, base, signal);
  }

  private podsGone(cache: ReturnType<PodCaches['get']>, base: string, signal: AbortSignal): Promise<void> {
    const mine = (): string[] =>
      cache
        .pods()
        .map((p) => p.metadata?.name ?? '')
        .filter((n) => n.startsWith(`${base}-`) && /^\d+$/.test(n.slice(base.length + 1)));
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        unsubscribe();
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const check = (): void => {
        if (mine().length === 0) finish();
      };
      const unsubscribe = cache.subscribe(check);
      const onAbort = (): void => finish(new SkyError('CANCELLED', 'waiting for the pods to be deleted was cancelled', { cause: signal.reason }));
      const timer = setTimeout(
        () =>
          finish(
            new SkyError('DRIVER_FAILED', `pods ${mine().join(', ')} in namespace ${cache.namespace} are still there ${TEARDOWN_MS / 1000} s after their deletion`, {
              hint: 'Check them with `kubectl get pods`; terminating again retries.',
            }),
          ),
        TEARDOWN_MS,
      );
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  // ---- check --------------------------------------------------------------------------------

  async checkTargets(target: string | undefined, opts: DriverCallOptions): Promise<TargetCheck[]> {
    const { config } = this.opts;
    let names: string[];
    try {
      names = target === undefined ? this.contexts.allowed() : [target];
    } catch (error) {
      return [{ name: target ?? 'k8s', reachable: false, error: (error as Error).message, missingPermissions: [], nodes: [] }];
    }
    return Promise.all(
      names.map(async (name): Promise<TargetCheck> => {
        const scope = namespaceFor(config, name, undefined);
        const refusal = this.contexts.refusal(name);
        if (refusal !== undefined) return { name, reachable: false, error: refusal, scope, missingPermissions: [], nodes: [] };
        const client = this.contexts.client(name);
        const signal = AbortSignal.any([opts.signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]);
        try {
          await abortable(client.version.getCode(withSignal(signal)), signal, `reaching context ${name}`);
        } catch (error) {
          const why = opts.signal.aborted ? 'cancelled' : signal.aborted ? `no answer within ${CHECK_TIMEOUT_MS / 1000} s` : apiFailure(error).message;
          return { name, reachable: false, endpoint: client.server, scope, error: `cannot reach ${client.server}: ${why}`, missingPermissions: [], nodes: [] };
        }
        const missing = await this.missingPermissions(client, scope, opts.signal);
        let nodes: TargetCheck['nodes'] = [];
        let error: string | undefined;
        // Namespace-scoped RBAC is the usual team set-up: without the cluster-wide reads the
        // context still works, only capacity and GPU types are unknown, so those are warnings.
        const warnings = missing.filter((m) => m.optional).map((m) => `missing ${m.text}`);
        try {
          const { views, detail } = await this.views(client, opts.signal);
          nodes = (views ?? []).map(targetNode);
          if (detail !== undefined) warnings.push(detail);
        } catch (e) {
          error = (e as Error).message;
        }
        return {
          name,
          reachable: true,
          endpoint: client.server,
          scope,
          missingPermissions: missing.filter((m) => !m.optional).map((m) => m.text),
          nodes,
          ...(warnings.length > 0 ? { warnings } : {}),
          ...(error === undefined ? {} : { error }),
        };
      }),
    );
  }

  private async missingPermissions(client: ContextClient, namespace: string, outer: AbortSignal): Promise<Array<{ text: string; optional: boolean }>> {
    const wanted = requiredPermissions(this.opts.config.reach);
    // One review per permission, all at once: each call listens on the signal.
    const signal = AbortSignal.any([outer]);
    setMaxListeners(4 * wanted.length + 10, signal);
    const answers = await Promise.all(
      wanted.map(async (p) => {
        try {
          const review = await abortable(
            client.authz.createSelfSubjectAccessReview(
              {
                body: {
                  apiVersion: 'authorization.k8s.io/v1',
                  kind: 'SelfSubjectAccessReview',
                  spec: { resourceAttributes: { verb: p.verb, resource: p.resource, subresource: p.subresource, namespace: p.clusterWide ? undefined : namespace } },
                },
              },
              withSignal(signal),
            ),
            signal,
            'checking permissions',
          );
          if (review.status?.allowed === true) return undefined;
        } catch {
          // Could not ask: report it as missing.
        }
        const what = `${p.verb} ${p.resource}${p.subresource === undefined ? '' : `/${p.subresource}`}`;
        return { text: `${what} ${p.clusterWide ? 'cluster-wide' : `in namespace ${namespace}`}${p.optional === undefined ? '' : ` (optional: ${p.optional})`}`, optional: p.optional !== undefined };
      }),
    );
    return answers.filter((a): a is { text: string; optional: boolean } => a !== undefined);
  }
}
