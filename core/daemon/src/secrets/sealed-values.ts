import type { StateStore } from '@sky/plugin-api';
import type { SecretCipher } from './secret-box.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A scalar secret value as the task parser will read it (numbers and booleans become strings). */
function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** A copy of a `secrets` map with each value sealed (its name is the context); null stays null. */
export function sealMap<T>(cipher: SecretCipher, secrets: Record<string, T>): Record<string, T | string> {
  const out: Record<string, T | string> = {};
  for (const [name, value] of Object.entries(secrets)) {
    const text = scalar(value);
    out[name] = text === undefined ? value : cipher.seal(text, name);
  }
  return out;
}

/** A copy of a `secrets` map with each sealed value opened. */
export function openMap<T>(cipher: SecretCipher, secrets: Record<string, T>): Record<string, T | string> {
  const out: Record<string, T | string> = {};
  for (const [name, value] of Object.entries(secrets)) out[name] = typeof value === 'string' ? cipher.open(value, name) : value;
  return out;
}

function mapSecrets(value: unknown, each: (secrets: Record<string, unknown>) => Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((item) => mapSecrets(item, each));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = key === 'secrets' && isPlainObject(item) ? each(item) : mapSecrets(item, each);
  return out;
}

/** A copy of a request body with the values of every `secrets` map (task secrets) sealed. */
export function sealBodySecrets(cipher: SecretCipher, body: unknown): unknown {
  return mapSecrets(body, (secrets) => sealMap(cipher, secrets));
}

/** A copy of a stored request body with its sealed secrets opened, for the operation that runs it. */
export function openBodySecrets(cipher: SecretCipher, body: unknown): unknown {
  return mapSecrets(body, (secrets) => openMap(cipher, secrets));
}

/**
 * The keys that sealed secrets the daemon will still open: those of queued or running
 * requests, of jobs and of managed jobs that have not ended (finished requests are never run again, and a
 * job's spec is dropped when it ends), of every service version kept, and of webhooks' secrets. Key id → how many values.
 */
export async function keysInUse(cipher: SecretCipher, store: StateStore): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const count = (secrets: Record<string, unknown>): Record<string, unknown> => {
    for (const value of Object.values(secrets)) {
      const id = typeof value === 'string' ? cipher.sealedWith(value) : undefined;
      if (id !== undefined) found.set(id, (found.get(id) ?? 0) + 1);
    }
    return secrets;
  };
  for (const status of ['PENDING', 'RUNNING'] as const) {
    for (const record of await store.requests.listByStatus(status)) mapSecrets(record.body, count);
  }
  for (const job of await store.jobs.listActive()) {
    const spec = await store.jobs.getSpec(job.cluster, job.id);
    if (spec) count(spec.secrets);
  }
  // A managed job relaunches its tasks from its spec for as long as it has not ended.
  for (const job of await store.managedJobs.list({ active: true })) {
    const spec = await store.managedJobs.getSpec(job.id);
    if (spec) mapSecrets(spec, count);
  }
  // A service launches replicas from its version specs (an older one too, on a rollback) for as long as it exists.
  for (const service of await store.services.list()) {
    for (let version = 1; version <= service.version; version++) {
      const spec = await store.services.getVersion(service.name, version);
      if (spec) mapSecrets(spec, count);
    }
  }
  // A webhook signs every delivery with its secret for as long as it exists.
  for (const workspace of await store.workspaces.list()) {
    for (const hook of workspace.webhooks ?? []) count({ [hook.id]: hook.secret });
  }
  return found;
}
