import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { PluginDocument, PluginDocuments } from '@sky/plugin-api';

export interface KeyPair {
  /** OpenSSH private key. */
  private: string;
  /** `ssh-ed25519 AAAA… comment`. */
  public: string;
}

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A fresh ed25519 key pair in OpenSSH formats (openssh-key-v1 private key, unencrypted). */
export function ed25519(comment: string): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4).readUInt32BE();
  let section = Buffer.concat([uint32(check), uint32(check), sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad: number[] = [];
  for (let i = 1; (section.length + pad.length) % 8 !== 0; i++) pad.push(i);
  section = Buffer.concat([section, Buffer.from(pad)]);
  const whole = Buffer.concat([Buffer.from('openssh-key-v1\0', 'latin1'), sshString('none'), sshString('none'), sshString(''), uint32(1), sshString(blob), sshString(section)]);
  const lines = whole.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    private: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    public: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
  };
}

/** The public key line without its comment: what a host presents. */
export function keyWithoutComment(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

/** A cluster id as a directory name. */
export function keyDirName(clusterId: string): string {
  return clusterId.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
}

/** A cluster's key pair as a secret document in the state store (empty once the cluster is gone). */
interface KeyDocument {
  privateKey?: string;
  publicKey?: string;
}

function parseKeyDocument(value: unknown): KeyDocument | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { privateKey, publicKey } = value as { privateKey?: unknown; publicKey?: unknown };
  if ((privateKey !== undefined && typeof privateKey !== 'string') || (publicKey !== undefined && typeof publicKey !== 'string')) return undefined;
  return { ...(typeof privateKey === 'string' ? { privateKey } : {}), ...(typeof publicKey === 'string' ? { publicKey } : {}) };
}

/** How the daemon finds a cluster's private key: a document in the shared store, or a file. */
export type KeyReach = { identityDocument: string } | { identityFile: string };

/**
 * The daemon's client key of a cluster. On a daemon whose store keeps plugin documents (shared
 * by replicas), a secret document `key.<clusterId>` there (sealed with the daemon's secrets key),
 * which every replica reads when it connects; otherwise a file under `<dataDir>/keys/<clusterId>/`.
 */
export class ClusterKeys {
  constructor(
    private readonly dataDir: string,
    private readonly documents?: PluginDocuments,
  ) {}

  private document(clusterId: string): PluginDocument<KeyDocument> | undefined {
    return this.documents?.open(`key.${keyDirName(clusterId)}`, { empty: () => ({}), parse: parseKeyDocument, secret: true });
  }

  /** What the node's SSH reach names for the key. */
  reachOf(clusterId: string): KeyReach {
    return this.documents === undefined ? { identityFile: this.identityFile(clusterId) } : { identityDocument: `key.${keyDirName(clusterId)}` };
  }

  dir(clusterId: string): string {
    return join(this.dataDir, 'keys', keyDirName(clusterId));
  }

  identityFile(clusterId: string): string {
    return join(this.dir(clusterId), 'id_ed25519');
  }

  /** The cluster's client key pair: the one kept (store or disk), else a new one (written 0600 on disk). */
  async ensure(clusterId: string, signal: AbortSignal): Promise<KeyPair> {
    const document = this.document(clusterId);
    if (document !== undefined) {
      return document.update(signal, (data) => {
        if (data.privateKey === undefined || data.publicKey === undefined) {
          const pair = ed25519(`sky-cluster-${clusterId}`);
          data.privateKey = pair.private;
          data.publicKey = pair.public;
        }
        return { private: data.privateKey, public: data.publicKey };
      });
    }
    const file = this.identityFile(clusterId);
    try {
      const [priv, pub] = await Promise.all([readFile(file, 'utf8'), readFile(`${file}.pub`, 'utf8')]);
      return { private: priv, public: pub.trim() };
    } catch {
      const pair = ed25519(`sky-cluster-${clusterId}`);
      await mkdir(this.dir(clusterId), { recursive: true, mode: 0o700 });
      await writeFile(file, pair.private, { mode: 0o600 });
      await chmod(file, 0o600);
      await writeFile(`${file}.pub`, `${pair.public}\n`, { mode: 0o644 });
      return pair;
    }
  }

  async remove(clusterId: string): Promise<void> {
    const document = this.document(clusterId);
    if (document !== undefined) {
      await document.update(new AbortController().signal, (data) => {
        delete data.privateKey;
        delete data.publicKey;
      });
    }
    await rm(this.dir(clusterId), { recursive: true, force: true });
  }
}
