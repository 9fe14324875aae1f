import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { SshReach } from '@sky/plugin-api';

/**
 * Run `command` over SSH on a node a driver returned, accepting only the host keys it pinned:
 * at the reach's host and port, or over `sock` (a port-forward tunnel). Its stdout.
 */
export function sshRunPinned(reach: SshReach, identity: string, command: string, sock?: Duplex): Promise<string> {
  const pinned = (reach.hostKeys ?? []).map((k) => k.split(' ')[1]);
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const timer = setTimeout(() => {
      client.end();
      reject(new Error('ssh timed out'));
    }, 15_000);
    client
      .on('ready', () => {
        client.exec(command, (err, stream) => {
          if (err) return reject(err);
          let out = '';
          stream.on('data', (d: Buffer) => (out += d.toString()));
          stream.stderr.on('data', () => undefined);
          stream.on('close', () => {
            clearTimeout(timer);
            client.end();
            resolve(out);
          });
        });
      })
      .on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      })
      .connect({
        ...(sock !== undefined ? { sock } : { host: reach.host, port: reach.port }),
        username: reach.user,
        privateKey: identity,
        hostVerifier: (key: Buffer) => pinned.includes(key.toString('base64')),
      });
  });
}
