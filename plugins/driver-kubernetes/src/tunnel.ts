import { Duplex, PassThrough, Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';
import { SkyError } from '@sky/protocol/wire';
import { cancelled } from './errors.js';

/**
 * `reach: port-forward`: a pod's sshd reached through the API server's port-forward
 * (`/api/v1/namespaces/<ns>/pods/<pod>/portforward`, a WebSocket the API server proxies to the
 * node's kubelet), as a Duplex the daemon speaks SSH over.
 */

/** A tunnel id: `<context>/<namespace>/<pod>` (a context name may itself hold `/`). */
export function tunnelId(context: string, namespace: string, pod: string): string {
  return `${context}/${namespace}/${pod}`;
}

export function parseTunnelId(id: string): { context: string; namespace: string; pod: string } | undefined {
  const podAt = id.lastIndexOf('/');
  const nsAt = podAt <= 0 ? -1 : id.lastIndexOf('/', podAt - 1);
  if (nsAt <= 0) return undefined;
  const context = id.slice(0, nsAt);
  const namespace = id.slice(nsAt + 1, podAt);
  const pod = id.slice(podAt + 1);
  return namespace === '' || pod === '' ? undefined : { context, namespace, pod };
}

/**
 * Open a port-forward stream to `port` of a pod. Resolves once the API server (and the kubelet
 * behind it) accepted the WebSocket; bytes then flow both ways. The stream ends when the pod side
 * closes, and is destroyed with an error when the kubelet reports one on the port's error
 * channel (e.g. nothing listens on the port). Destroying the stream closes the WebSocket.
 */
export async function openPortForward(kc: KubeConfig, namespace: string, pod: string, port: number, signal: AbortSignal): Promise<Duplex> {
  const what = `port-forward to port ${port} of pod ${pod} in namespace ${namespace}`;
  if (signal.aborted) throw cancelled(what, signal);
  const toPod = new PassThrough();
  const fromPod = new PassThrough();
  const stream = new TunnelStream(toPod, fromPod);
  // The kubelet's error channel for the port: text there means the port could not be reached.
  let errorText = '';
  const failIfErrored = (): void => {
    if (errorText.trim() !== '' && !stream.destroyed) {
      stream.destroy(new SkyError('NODE_UNREACHABLE', `the kubelet could not forward to port ${port} of pod ${pod}: ${errorText.trim()}`));
    }
  };
  const errors = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      errorText += chunk.toString('utf8');
      setImmediate(failIfErrored);
      callback();
    },
  });
  let ws;
  try {
    const opened = await new PortForward(kc, true).portForward(namespace, pod, [port], fromPod, errors, toPod);
    if (typeof opened === 'function') throw new Error('client-node returned a restartable port-forward');
    ws = opened;
  } catch (error) {
    stream.destroy();
    const message = (error as { message?: unknown }).message;
    throw new SkyError('NODE_UNREACHABLE', `the API server refused the ${what}: ${typeof message === 'string' && message !== '' ? message : String(error)}`, {
      hint: "The daemon needs `create pods/portforward` in the namespace (see `sky check k8s`), and the node's kubelet must serve port-forward.",
      cause: error,
    });
  }
  if (signal.aborted) {
    ws.close();
    stream.destroy();
    throw cancelled(what, signal);
  }
  ws.on('close', () => {
    failIfErrored();
    fromPod.end();
  });
  ws.on('error', (error: Error) => stream.destroy(new SkyError('NODE_UNREACHABLE', `the ${what} failed: ${error.message}`)));
  stream.on('close', () => ws.close());
  return stream;
}

/**
 * The stream handed out: what is written goes to the WebSocket's input (`toPod`), what the pod
 * sends (`fromPod`) is read. Destroying it (without an error) is a plain close, not an error.
 */
class TunnelStream extends Duplex {
  constructor(
    private readonly toPod: PassThrough,
    private readonly fromPod: PassThrough,
  ) {
    super();
    fromPod.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) fromPod.pause();
    });
    fromPod.on('end', () => this.push(null));
  }

  override _read(): void {
    this.fromPod.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.toPod.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.toPod.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.toPod.destroy();
    this.fromPod.destroy();
    callback(error);
  }
}

/**
 * Resolve once the pod's sshd answers through port-forward (its `SSH-` banner arrives); retried
 * with back-off until `timeoutMs`. Rejects NODE_UNREACHABLE with the last reason, CANCELLED on abort.
 */
export async function waitForTunnel(open: (signal: AbortSignal) => Promise<Duplex>, label: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt';
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw cancelled(`waiting for sshd of ${label} through port-forward`, signal);
    const attemptSignal = AbortSignal.any([signal, AbortSignal.timeout(Math.min(10_000, Math.max(500, deadline - Date.now())))]);
    try {
      const stream = await open(attemptSignal);
      await new Promise<void>((resolve, reject) => {
        let banner = '';
        const finish = (error?: Error): void => {
          attemptSignal.removeEventListener('abort', onAbort);
          stream.destroy();
          if (error) reject(error);
          else resolve();
        };
        const onAbort = (): void => finish(new Error('no SSH banner in time'));
        attemptSignal.addEventListener('abort', onAbort, { once: true });
        stream.on('data', (chunk: Buffer) => {
          banner += chunk.toString('latin1');
          if (banner.startsWith('SSH-')) finish();
          else if (banner.length >= 4) finish(new Error(`the port answered ${JSON.stringify(banner.slice(0, 40))}, not an SSH banner`));
        });
        stream.on('error', (error: Error) => finish(error));
        stream.on('end', () => finish(new Error('the stream ended before an SSH banner')));
      });
      return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
  }
  throw new SkyError('NODE_UNREACHABLE', `the sshd of ${label} does not answer through the API server's port-forward (${lastError})`, {
    hint: 'Check `create pods/portforward` with `sky check k8s`, that the node\'s kubelet serves port-forward, and that the node image runs /bin/sh.',
  });
}
