import type { PluginDocumentRepository } from '@sky/plugin-api';
import type { SecretCipher } from '../secrets/secret-box.js';

/** What a document opened with `secret: true` is stored as: its JSON, sealed with the daemon's secrets key. */
interface SealedValue {
  sealed: string;
}

function contextOf(plugin: string, name: string): string {
  return `plugin document ${plugin}/${name}`;
}

function isSealed(value: unknown): value is SealedValue {
  return typeof value === 'object' && value !== null && typeof (value as { sealed?: unknown }).sealed === 'string';
}

export function sealDocument(cipher: SecretCipher, plugin: string, name: string, value: unknown): SealedValue {
  return { sealed: cipher.seal(JSON.stringify(value ?? null), contextOf(plugin, name)) };
}

/** The value of a secret document (one stored before it was sealed passes through). */
export function openDocument(cipher: SecretCipher, plugin: string, name: string, stored: unknown): unknown {
  return isSealed(stored) ? (JSON.parse(cipher.open(stored.sealed, contextOf(plugin, name))) as unknown) : stored;
}

/** A node's private key kept by its driver as a secret document `{ privateKey }` (SshReach.identityDocument). */
export async function readIdentityDocument(repository: PluginDocumentRepository | undefined, cipher: SecretCipher, driver: string, name: string): Promise<Buffer> {
  if (repository === undefined) throw new Error('this daemon\'s state store keeps no plugin documents');
  const stored = await repository.get(driver, name);
  if (stored === undefined) throw new Error(`driver ${driver} has no document "${name}" (the cluster was torn down, or made on another store)`);
  const value = openDocument(cipher, driver, name, stored.value) as { privateKey?: unknown } | null;
  if (typeof value?.privateKey !== 'string') throw new Error(`driver ${driver}'s document "${name}" holds no privateKey`);
  return Buffer.from(value.privateKey);
}
