/**
 * Kubeconfig files for the harness's control plane: one cluster entry with the API server's CA
 * inline (certificate-authority-data, so TLS verification stays on), one user per token, and
 * contexts naming them. Written as JSON, which every kubeconfig reader accepts (YAML is a
 * superset of JSON).
 */
import { writeFileSync } from 'node:fs';

export interface KubeconfigContext {
  name: string;
  /** A token name of the control plane (admin, limited, user-a, ...). */
  user: string;
  namespace?: string;
}

export interface KubeconfigOptions {
  contexts: KubeconfigContext[];
  /** Defaults to the first context. */
  current?: string;
  /** Also a context of this name pointing at https://127.0.0.1:<a closed port> (nobody listens). */
  extraUnreachable?: string;
}

export interface KubeconfigInput {
  server: string;
  ca: string;
  tokens: Record<string, string>;
  /** A port nobody listens on, for the unreachable context. */
  closedPort: number;
}

export function writeKubeconfig(path: string, input: KubeconfigInput, options: KubeconfigOptions): void {
  const caData = Buffer.from(input.ca, 'utf8').toString('base64');
  const usedUsers = [...new Set(options.contexts.map((c) => c.user))];
  for (const user of usedUsers) {
    if (input.tokens[user] === undefined) throw new Error(`no token named ${user} (there are ${Object.keys(input.tokens).join(', ')})`);
  }
  const clusters = [{ name: 'sky-test', cluster: { server: input.server, 'certificate-authority-data': caData } }];
  const contexts = options.contexts.map((c) => ({
    name: c.name,
    context: { cluster: 'sky-test', user: c.user, ...(c.namespace ? { namespace: c.namespace } : {}) },
  }));
  if (options.extraUnreachable) {
    clusters.push({ name: 'sky-test-unreachable', cluster: { server: `https://127.0.0.1:${input.closedPort}`, 'certificate-authority-data': caData } });
    const user = usedUsers[0] ?? 'admin';
    if (usedUsers.length === 0) usedUsers.push(user);
    contexts.push({ name: options.extraUnreachable, context: { cluster: 'sky-test-unreachable', user } });
  }
  const current = options.current ?? options.contexts[0]?.name ?? options.extraUnreachable;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters,
    users: usedUsers.map((u) => ({ name: u, user: { token: input.tokens[u] } })),
    contexts,
    ...(current ? { 'current-context': current } : {}),
  };
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
}
