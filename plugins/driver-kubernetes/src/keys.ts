import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export interface KeyPair {
  /** OpenSSH private key. */
  private: string;
  /** `ssh-ed25519 AAAA… comment`. */
  public: string;
}

/** A fresh ed25519 key pair in OpenSSH formats. */
export function ed25519(comment: string): KeyPair {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  return { private: pair.private, public: pair.public.trim() };
}

/** The public key line without its comment: what a host presents. */
export function keyWithoutComment(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

/** A cluster id as a directory name. */
export function keyDirName(clusterId: string): string {
  return clusterId.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
}

/** The daemon's client key of a cluster, under `<dataDir>/keys/<clusterId>/`. */
export class ClusterKeys {
  constructor(private readonly dataDir: string) {}

  dir(clusterId: string): string {
    return join(this.dataDir, 'keys', keyDirName(clusterId));
  }

  identityFile(clusterId: string): string {
    return join(this.dir(clusterId), 'id_ed25519');
  }

  /** The cluster's client key pair: the one on disk, else a new one written 0600. */
  async ensure(clusterId: string): Promise<KeyPair> {
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
    await rm(this.dir(clusterId), { recursive: true, force: true });
  }
}
