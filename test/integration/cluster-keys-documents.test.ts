import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryDocumentRepository } from '@sky/plugin-api/testing';
import { ClusterKeys } from 'sky-driver-kubernetes';
import { SecretBox } from '../../core/daemon/src/secrets/secret-box.js';
import { StoreDocuments } from '../../core/daemon/src/plugins/store-documents.js';
import { readIdentityDocument } from '../../core/daemon/src/plugins/sealed-documents.js';
import { TransportPool } from '../../core/daemon/src/nodes/transports.js';
import { SshTransport } from '../../core/daemon/src/nodes/ssh-transport.js';
import { createHosts } from '../helpers/netns-hosts.js';

// The Kubernetes driver's cluster keys as secret documents of a shared store: sealed with the
// daemon's secrets key at rest, one pair per cluster whichever replica asks first, read by the
// daemon's SSH connections of any replica (SshReach.identityDocument), and gone with the cluster.

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
const never = new AbortController().signal;

function box(): SecretBox {
  const secrets = new SecretBox({ keyFile: '/nonexistent/unused' });
  secrets.useKey(randomBytes(32));
  return secrets;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sky-keys-docs-'));
  dirs.push(dir);
  return dir;
}

describe('Kubernetes cluster keys in a shared store', () => {
  it('keeps one key pair per cluster, sealed, whichever replica asks first; writes no key file', async () => {
    const repository = new MemoryDocumentRepository(() => undefined);
    const secrets = box();
    const [dirA, dirB] = [await tempDir(), await tempDir()];
    const onA = new ClusterKeys(dirA, new StoreDocuments(repository, 'k8s', secrets));
    const onB = new ClusterKeys(dirB, new StoreDocuments(repository, 'k8s', secrets));
    const [first, second] = await Promise.all([onA.ensure('web-1a2b', never), onB.ensure('web-1a2b', never)]);
    assert.deepEqual(first, second, 'both replicas hold the same pair');
    assert.match(first.private, /^-----BEGIN OPENSSH PRIVATE KEY-----/);
    assert.deepEqual(onA.reachOf('web-1a2b'), { identityDocument: 'key.web-1a2b' });
    assert.ok(!existsSync(join(dirA, 'keys')) && !existsSync(join(dirB, 'keys')), 'no key file on either machine');

    const stored = await repository.get('k8s', 'key.web-1a2b');
    assert.ok(stored !== undefined);
    assert.ok(!JSON.stringify(stored.value).includes('PRIVATE KEY'), 'sealed at rest');
    assert.match((stored.value as { sealed: string }).sealed, /^sky-sealed:v1:/);

    // The daemon reads it for an SSH connection (any replica with the same secrets key) ...
    const key = await readIdentityDocument(repository, secrets, 'k8s', 'key.web-1a2b');
    assert.equal(key.toString(), first.private);
    // ... and one with another key cannot open it.
    await assert.rejects(readIdentityDocument(repository, box(), 'k8s', 'key.web-1a2b'), /sealed with key/);

    await onB.remove('web-1a2b');
    await assert.rejects(readIdentityDocument(repository, secrets, 'k8s', 'key.web-1a2b'), /holds no privateKey/);
    const fresh = await onA.ensure('web-1a2b', never);
    assert.notEqual(fresh.private, first.private, 'a cluster launched again gets a new key');
  });

  it('without documents (LevelDB: one daemon) the key is a 0600 file named in the reach, as before', async () => {
    const dir = await tempDir();
    const keys = new ClusterKeys(dir);
    await keys.ensure('api-9', never);
    assert.deepEqual(keys.reachOf('api-9'), { identityFile: join(dir, 'keys', 'api-9', 'id_ed25519') });
    assert.ok(existsSync(join(dir, 'keys', 'api-9', 'id_ed25519')));
  });

  it('an SSH connection logs in with a key read from the store (an sshd in a network namespace), keyed apart from a file key', async () => {
    const set = await createHosts(1);
    try {
      const host = set.hosts[0]!;
      const repository = new MemoryDocumentRepository(() => undefined);
      const secrets = box();
      // The host's authorized key, kept as a driver would keep a cluster key.
      const privateKey = await readFile(host.identityFile, 'utf8');
      await new StoreDocuments(repository, 'k8s', secrets).open('key.c1', { empty: () => ({}), parse: (v) => v as object, secret: true }).update(never, (d: { privateKey?: string }) => {
        d.privateKey = privateKey;
      });
      const reads: string[] = [];
      const pool = new TransportPool({ knownHostsFile: set.knownHostsFile }, undefined, false, {}, undefined, ({ driver, name }) => {
        reads.push(`${driver}/${name}`);
        return readIdentityDocument(repository, secrets, driver, name);
      });
      const reach = { kind: 'ssh' as const, host: host.ip, port: host.port, user: host.user, identityDocument: { driver: 'k8s', name: 'key.c1' } };
      const transport = pool.forReach(reach, host.ip);
      assert.ok(transport instanceof SshTransport);
      const result = await transport.run('echo logged-in-with-the-stored-key');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), 'logged-in-with-the-stored-key');
      assert.deepEqual(reads, ['k8s/key.c1']);
      assert.equal(pool.forReach(reach, host.ip), transport, 'one pooled connection per reach');
      assert.notEqual(pool.forReach({ kind: 'ssh', host: host.ip, port: host.port, user: host.user, identityFile: host.identityFile }, host.ip), transport);
      // A missing document is a clear NODE_UNREACHABLE naming it.
      const missing = pool.forReach({ ...reach, identityDocument: { driver: 'k8s', name: 'key.gone' } }, host.ip);
      await assert.rejects(missing.run('true'), (err: Error & { code?: string }) => err.code === 'NODE_UNREACHABLE' && /identity key k8s\/key\.gone/.test(err.message));
      await pool.closeAll();
    } finally {
      await set.destroy();
    }
  });
});
