import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { SkyError } from '@sky/protocol';
import { createKeyFile, keyIdOf, readKeyFile } from './key-file.js';

/** Every sealed value starts with this; anything else is a plain value (e.g. written before encryption at rest). */
export const SEALED_PREFIX = 'sky-sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals secret values before they are persisted and opens them where they are used. The store
 * only ever holds sealed strings, so every state store (LevelDB today, PostgreSQL later) gets
 * the same scheme: AES-256-GCM with a random 96-bit IV per value, the key id and the value's
 * context (e.g. the secret's name) as associated data, under one per-daemon key file.
 */
export interface SecretCipher {
  /** Load (or, when allowed, create) the key; called once at daemon start. */
  useKey(key: Buffer): void;
  /** The id of the key in use (a fingerprint, not secret). */
  readonly keyId: string | undefined;
  seal(plain: string, context: string): string;
  /** The plain value; values that are not sealed pass through unchanged. */
  open(value: string, context: string): string;
  /** The id of the key that sealed `value`, or undefined when it is not sealed. */
  sealedWith(value: string): string | undefined;
}

export interface SecretBoxOptions {
  /** The key file, loaded (or created when missing) on first use if start-up did not load it. */
  keyFile: string;
}

/** AES-256-GCM sealing with a key file of the daemon (see SecretCipher). */
export class SecretBox implements SecretCipher {
  private key: Buffer | undefined;
  private id: string | undefined;

  constructor(private readonly options: SecretBoxOptions) {}

  get keyId(): string | undefined {
    return this.id;
  }

  get keyFile(): string {
    return this.options.keyFile;
  }

  useKey(key: Buffer): void {
    this.key = key;
    this.id = keyIdOf(key);
  }

  seal(plain: string, context: string): string {
    const { key, id } = this.current();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(`${id}\0${context}`));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${SEALED_PREFIX}${id}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  open(value: string, context: string): string {
    const sealedBy = this.sealedWith(value);
    if (sealedBy === undefined) return value;
    const { key, id } = this.current();
    if (sealedBy !== id) {
      throw new SkyError('SECRETS_KEY_UNAVAILABLE', `a secret (${context}) was sealed with key ${sealedBy}, but this daemon holds key ${id} (${this.options.keyFile})`, {
        hint: 'Restore the key file that sealed it; or submit the task again so its secrets are sealed with the current key.',
      });
    }
    const raw = Buffer.from(value.slice(SEALED_PREFIX.length + id.length + 1), 'base64url');
    try {
      if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`${id}\0${context}`));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SkyError('SECRETS_KEY_UNAVAILABLE', `a sealed secret (${context}) does not decrypt with key ${id}: it was altered or belongs elsewhere`, {
        hint: 'Submit the task again; the state store holds a damaged or moved secret.',
      });
    }
  }

  sealedWith(value: string): string | undefined {
    if (!value.startsWith(SEALED_PREFIX)) return undefined;
    const end = value.indexOf(':', SEALED_PREFIX.length);
    return end < 0 ? undefined : value.slice(SEALED_PREFIX.length, end);
  }

  /** The key in use; loaded from (or created in) the key file when start-up has not done so. */
  private current(): { key: Buffer; id: string } {
    if (this.key === undefined || this.id === undefined) {
      const found = readKeyFile(this.options.keyFile);
      if (found.kind === 'key') chmodSync(this.options.keyFile, 0o600);
      this.useKey(found.kind === 'key' ? found.key : createKeyFile(this.options.keyFile));
    }
    return { key: this.key!, id: this.id! };
  }
}
