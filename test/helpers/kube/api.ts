/**
 * A minimal Kubernetes API client for the harness and the tests: HTTPS with TLS verification
 * against the API server's own CA, bearer tokens, JSON bodies, and watches read as a stream of
 * JSON lines. Deliberately not @kubernetes/client-node, so the harness never shares a bug with
 * the driver it tests.
 */
import { request as httpsRequest, Agent } from 'node:https';

export interface KubeAnswer<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string }>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface KubeList<T> {
  metadata: { resourceVersion: string };
  items: T[];
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface RequestOptions {
  /** Defaults to the client's token. */
  token?: string;
  /** Defaults to application/json (merge-patch+json for PATCH). */
  contentType?: string;
  /** Reject unless the status is 2xx (default true). */
  expectOk?: boolean;
}

export class KubeApi {
  private readonly agent: Agent;

  constructor(
    readonly server: string,
    readonly ca: string,
    readonly token: string,
  ) {
    this.agent = new Agent({ ca, keepAlive: true, maxSockets: 32 });
  }

  /** The same server and CA with another token. */
  as(token: string): KubeApi {
    return new KubeApi(this.server, this.ca, token);
  }

  request<T = unknown>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<KubeAnswer<T>> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const contentType = options.contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${options.token ?? this.token}`,
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // not JSON (e.g. /readyz answers text)
            }
            const status = res.statusCode ?? 0;
            if ((options.expectOk ?? true) && (status < 200 || status > 299)) {
              reject(new Error(`${method} ${url.pathname}${url.search} answered ${status}: ${text.slice(0, 1000)}`));
              return;
            }
            resolve({ status, body: parsed as T, text });
          });
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url.pathname} timed out after 30 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async get<T = KubeObject>(path: string): Promise<T> {
    return (await this.request<T>('GET', path)).body;
  }

  /** The object, or undefined on 404. */
  async find<T = KubeObject>(path: string): Promise<T | undefined> {
    const answer = await this.request<T>('GET', path, undefined, { expectOk: false });
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}: ${answer.text.slice(0, 1000)}`);
    return answer.body;
  }

  /**
   * A watch from `resourceVersion`: calls `onEvent` per event until the server ends the stream
   * (resolves) or `stop()` is called. `path` is a collection path (query allowed).
   */
  watch<T>(path: string, resourceVersion: string, onEvent: (event: WatchEvent<T>) => void): { done: Promise<void>; stop: () => void } {
    const url = new URL(path, this.server);
    url.searchParams.set('watch', '1');
    url.searchParams.set('resourceVersion', resourceVersion);
    url.searchParams.set('allowWatchBookmarks', 'true');
    let stopped = false;
    let stop = (): void => {
      stopped = true;
    };
    const done = new Promise<void>((resolve, reject) => {
      const req = httpsRequest(url, { method: 'GET', agent: this.agent, headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' } }, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => reject(new Error(`watch ${url.pathname} answered ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 500)}`)));
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl = buffer.indexOf('\n');
          while (nl >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line !== '' && !stopped) onEvent(JSON.parse(line) as WatchEvent<T>);
            nl = buffer.indexOf('\n');
          }
        });
        res.on('end', () => resolve());
        res.on('error', (err) => (stopped ? resolve() : reject(err)));
        res.on('close', () => resolve());
      });
      req.on('error', (err) => (stopped ? resolve() : reject(err)));
      req.end();
      stop = (): void => {
        stopped = true;
        req.destroy();
        resolve();
      };
    });
    return { done, stop: () => stop() };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Percent-encode one path segment. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
