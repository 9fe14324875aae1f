import { AuthorizationV1Api, CoreV1Api, KubeConfig, VersionApi, type ConfigurationOptions, Observable, type ObservableMiddleware } from '@kubernetes/client-node';
import { SkyError } from '@sky/protocol/wire';
import { IN_CLUSTER_CONTEXT, type KubeDriverConfig } from './config.js';

/** The API clients of one kubeconfig context. */
export interface ContextClient {
  context: string;
  server: string;
  kc: KubeConfig;
  core: CoreV1Api;
  authz: AuthorizationV1Api;
  version: VersionApi;
}

/** Per-call options that abort the HTTP request when `signal` aborts. */
export function withSignal(signal: AbortSignal): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx) => new Observable(Promise.resolve(ctx)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/**
 * The kubeconfig contexts the driver may use, loaded once; each context's clients are made on
 * first use. TLS verification stays as the kubeconfig says (on unless it sets insecure-skip-tls-verify).
 */
export class Contexts {
  private base: KubeConfig | undefined;
  private loadError: SkyError | undefined;
  private readonly clients = new Map<string, ContextClient>();

  constructor(private readonly config: Pick<KubeDriverConfig, 'kubeconfig' | 'allowedContexts'>) {}

  private where(): string {
    return this.config.kubeconfig.kind === 'file' ? `kubeconfig ${this.config.kubeconfig.path}` : 'the in-cluster service account';
  }

  private fresh(): KubeConfig {
    const kc = new KubeConfig();
    const source = this.config.kubeconfig;
    if (source.kind === 'in-cluster') {
      kc.loadFromCluster();
      const cluster = kc.getCurrentCluster();
      const user = kc.getCurrentUser();
      if (cluster !== null && user !== null) {
        kc.loadFromOptions({
          clusters: [cluster],
          users: [user],
          contexts: [{ name: IN_CLUSTER_CONTEXT, cluster: cluster.name, user: user.name }],
          currentContext: IN_CLUSTER_CONTEXT,
        });
      }
    } else {
      kc.loadFromFile(source.path);
    }
    return kc;
  }

  /** The loaded kubeconfig; throws DRIVER_FAILED naming the file when it cannot be read. */
  kubeconfig(): KubeConfig {
    if (this.base !== undefined) return this.base;
    if (this.loadError !== undefined) throw this.loadError;
    try {
      this.base = this.fresh();
      return this.base;
    } catch (error) {
      const err = new SkyError('DRIVER_FAILED', `cannot load ${this.where()}: ${(error as Error).message}`, {
        hint: 'Set drivers.k8s.kubeconfig (or $KUBECONFIG) to a readable kubeconfig file, then restart the daemon.',
        cause: error,
      });
      this.loadError = err;
      throw err;
    }
  }

  /** Every context of the kubeconfig. */
  all(): string[] {
    return this.kubeconfig()
      .getContexts()
      .map((c) => c.name);
  }

  /** The contexts the driver may use, in failover order. */
  allowed(): string[] {
    if (this.config.allowedContexts !== undefined) return [...this.config.allowedContexts];
    const current = this.kubeconfig().getCurrentContext();
    return current === '' ? [] : [current];
  }

  /** Why `context` cannot be used, or undefined when it can. */
  refusal(context: string): string | undefined {
    if (!this.all().includes(context)) return `Kubernetes context ${context} is not in ${this.where()} (it has ${this.all().join(', ') || 'none'})`;
    if (!this.allowed().includes(context)) return `Kubernetes context ${context} is not in allowed_contexts (${this.allowed().join(', ')})`;
    return undefined;
  }

  /** The clients of an allowed context; throws SkyError naming why it cannot be used. */
  client(context: string): ContextClient {
    const existing = this.clients.get(context);
    if (existing !== undefined) return existing;
    const refusal = this.refusal(context);
    if (refusal !== undefined) {
      throw new SkyError('DRIVER_FAILED', refusal, { hint: 'Use --infra k8s/<context> with a context listed by `sky check k8s`, or add it to drivers.k8s.allowed_contexts.' });
    }
    const kc = this.fresh();
    kc.setCurrentContext(context);
    const server = kc.getCurrentCluster()?.server ?? '?';
    const client: ContextClient = {
      context,
      server,
      kc,
      core: kc.makeApiClient(CoreV1Api),
      authz: kc.makeApiClient(AuthorizationV1Api),
      version: kc.makeApiClient(VersionApi),
    };
    this.clients.set(context, client);
    return client;
  }
}
