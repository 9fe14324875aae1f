import { chmodSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import { createKeyFile, readKeyFile } from './key-file.js';
import { keysInUse } from './sealed-values.js';
import type { SecretCipher } from './secret-box.js';

export interface LoadKeyOptions {
  keyFile: string;
  /** Start although queued requests or jobs hold secrets sealed with a key that is not available (they fail when they run). */
  allowUnreadable: boolean;
  logger: Logger;
}

function describe(foreign: ReadonlyArray<[string, number]>): string {
  return foreign.map(([id, n]) => `${n} sealed with key ${id}`).join(', ');
}

/**
 * Load the key that seals task secrets at rest, creating it (0600) at the first start. Refuses
 * to start, naming the key file, when it cannot be read, or when queued requests or unfinished
 * jobs hold secrets sealed with a key other than the one found (or created): those secrets
 * would be lost. `secrets.allow_unreadable` accepts that loss explicitly.
 */
export async function loadSecretsKey(cipher: SecretCipher, store: StateStore, options: LoadKeyOptions): Promise<void> {
  const { keyFile, allowUnreadable, logger } = options;
  const inUse = await keysInUse(cipher, store);
  const found = readKeyFile(keyFile);
  if (found.kind === 'missing') {
    if (inUse.size > 0 && !allowUnreadable) {
      throw new SkyError('SECRETS_KEY_UNAVAILABLE', `the secrets key ${keyFile} is missing, but queued requests and unfinished jobs hold secrets sealed with it (${describe([...inUse])})`, {
        hint: 'Restore the key file from where the state directory was backed up (or point secrets.key_file at it). To give those secrets up instead, set secrets.allow_unreadable: true; the requests and jobs holding them then fail.',
        details: { path: keyFile },
      });
    }
    cipher.useKey(createKeyFile(keyFile));
    logger.info({ keyFile, keyId: cipher.keyId }, 'created the key that encrypts task secrets at rest');
  } else {
    makePrivate(keyFile);
    cipher.useKey(found.key);
  }
  const foreign = [...inUse].filter(([id]) => id !== cipher.keyId);
  if (foreign.length === 0) return;
  if (!allowUnreadable) {
    throw new SkyError('SECRETS_KEY_UNAVAILABLE', `the secrets key ${keyFile} (key ${cipher.keyId}) is not the one that sealed the secrets of queued requests and unfinished jobs (${describe(foreign)})`, {
      hint: 'Restore the key file that sealed them (or point secrets.key_file at it). To give those secrets up instead, set secrets.allow_unreadable: true; the requests and jobs holding them then fail.',
      details: { path: keyFile },
    });
  }
  logger.warn({ keyFile, keyId: cipher.keyId, unreadable: Object.fromEntries(foreign) }, 'starting although some sealed secrets cannot be opened (secrets.allow_unreadable); their requests and jobs will fail');
}

/** chmod 600; a key file the daemon may read but not chmod must already be private. */
function makePrivate(keyFile: string): void {
  try {
    chmodSync(keyFile, 0o600);
  } catch (err) {
    if ((statSync(keyFile).mode & 0o077) === 0) return;
    throw new SkyError('SECRETS_KEY_UNAVAILABLE', `the secrets key ${keyFile} is readable by other accounts and cannot be made private (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      hint: `Make it owned by the daemon's account with mode 600: chown and chmod 600 ${keyFile}.`,
      details: { path: keyFile },
    });
  }
}
