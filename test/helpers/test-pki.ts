/**
 * Throwaway certificates for TLS tests, made with the `openssl` command at test time (EC P-256,
 * so it takes a fraction of a second): a CA, server certificates it signs (valid, expired, for
 * another name), and a second, unrelated CA. Everything lives in one temp directory that
 * `destroy()` removes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServerCert {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signs every server certificate below (PEM file). */
  ca: string;
  /** A CA that signed none of them. */
  otherCa: string;
  /** Issued by `ca` for localhost and 127.0.0.1, valid now. */
  server: ServerCert;
  /** Issued by `ca` for sky.test only (a name mismatch for localhost and 127.0.0.1). */
  otherName: ServerCert;
  /** Issued by `ca` for localhost and 127.0.0.1, expired on 2020-01-02. */
  expired: ServerCert;
  destroy(): Promise<void>;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

/** Whether the openssl command can be run (the TLS tests need it; scripts/ci-setup.sh installs it). */
export async function hasOpenssl(): Promise<boolean> {
  try {
    await run('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

async function newKey(dir: string, name: string): Promise<string> {
  const file = join(dir, `${name}.key`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir);
  return file;
}

async function newCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const key = await newKey(dir, name);
  const cert = join(dir, `${name}.pem`);
  await openssl(
    ['req', '-x509', '-new', '-key', key, '-subj', `/CN=${name}`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', cert],
    dir,
  );
  return { cert, key };
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'sky-pki-'));
  const ca = await newCa(dir, 'sky-test-ca');
  const other = await newCa(dir, 'unrelated-ca');
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `database = ${join(dir, 'index.txt')}`,
      `new_certs_dir = ${dir}`,
      `serial = ${join(dir, 'serial')}`,
      'default_md = sha256',
      'policy = anything',
      'copy_extensions = copy',
      'unique_subject = no',
      '[anything]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  const issue = async (name: string, altNames: string, dates: string[]): Promise<ServerCert> => {
    const key = await newKey(dir, name);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.pem`);
    await openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-addext', `subjectAltName=${altNames}`, '-out', csr], dir);
    await openssl(['ca', '-batch', '-notext', '-config', join(dir, 'ca.cnf'), '-cert', ca.cert, '-keyfile', ca.key, '-in', csr, '-out', cert, ...dates], dir);
    return { cert, key };
  };
  const server = await issue('localhost', 'DNS:localhost,IP:127.0.0.1', ['-days', '2']);
  const otherName = await issue('sky.test', 'DNS:sky.test', ['-days', '2']);
  const expired = await issue('expired', 'DNS:localhost,IP:127.0.0.1', ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']);
  return {
    dir,
    ca: ca.cert,
    otherCa: other.cert,
    server,
    otherName,
    expired,
    destroy: () => rm(dir, { recursive: true, force: true }),
  };
}
