import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted, so two equal bodies give the same text whatever their key order.
 * The values of a task's `secrets` are left out (their names stay): a secret is never hashed, so
 * the stored digest cannot be used to guess one.
 */
function canonical(value: unknown, secrets = false): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${secrets ? '"*"' : canonical((value as Record<string, unknown>)[k], k === 'secrets')}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The digest stored with an idempotent request: a retry with the same key must carry the same
 * operation, workspace and body (a reused key with anything else is a conflict, not a retry;
 * secret values are not compared, as they are not hashed).
 */
export function idempotencyHash(name: string, workspace: string, body: unknown): string {
  return `sha256:${createHash('sha256').update(`${name}\n${workspace}\n${canonical(body)}`).digest('hex')}`;
}
