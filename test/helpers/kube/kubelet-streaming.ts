/**
 * The kubelet's streaming endpoint, as far as port-forward goes: an HTTPS server (self-signed
 * certificate; the API server does not verify kubelets here, no --kubelet-certificate-authority)
 * the REAL kube-apiserver proxies `pods/portforward` to, at `/portForward/<ns>/<pod>[/<uid>]?port=N`
 * on the node's InternalIP and `status.daemonEndpoints.kubeletEndpoint.Port`. The API server
 * passes the client's WebSocket upgrade through as-is (1.20: an upgrade-aware proxy), so this
 * speaks the kubelet's WebSocket port-forward protocol (`v4.channel.k8s.io`, binary): per port
 * `n`, a data channel 2n and an error channel 2n+1; the first frame of each channel carries the
 * port as 2 little-endian bytes; every frame is prefixed by its channel byte. Each data channel
 * is one TCP connection to the pod's IP and port, from the node's address (the one source that
 * reaches pods when the kubelet isolates them); a failure to
 * connect is reported on the error channel, then the WebSocket closes. SPDY is not served.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { connect, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';

const PROTOCOLS = ['v4.channel.k8s.io', 'channel.k8s.io'];

export interface StreamingTarget {
  ip: string | undefined;
  uid: string;
}

export interface KubeletStreaming {
  /** The port it listens on, at `host`. */
  port: number;
  /** Port-forward streams opened so far (each a TCP connection to a pod). */
  forwards: number;
  close(): Promise<void>;
}

/** A self-signed certificate for the streaming servers, made once per kubelet in `dir`. */
export async function kubeletCertificate(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const key = join(dir, 'kubelet.key');
  const cert = join(dir, 'kubelet.crt');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=sky-fake-kubelet',
  ]);
  return { key: await readFile(key), cert: await readFile(cert) };
}

function frame(channel: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([channel]), data]);
}

function portBytes(channel: number, port: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUInt8(channel, 0);
  b.writeUInt16LE(port, 1);
  return b;
}

/**
 * Serve port-forward on `host` (a node's InternalIP, an address of this machine) for the pods
 * `lookup` knows (namespace, name → the pod's IP once it runs).
 */
export async function startKubeletStreaming(
  host: string,
  tls: { key: Buffer; cert: Buffer },
  lookup: (namespace: string, name: string) => StreamingTarget | undefined,
  report: (err: Error) => void,
): Promise<KubeletStreaming> {
  const sockets = new Set<Socket>();
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  const state: KubeletStreaming = { port: 0, forwards: 0, close: async () => undefined };
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    // Only upgrades are served (no SPDY, no exec/attach/logs).
    res.writeHead(req.url?.startsWith('/portForward/') ? 400 : 404, { 'content-type': 'text/plain' });
    res.end(req.url?.startsWith('/portForward/') ? 'the sky test kubelet serves port-forward over WebSocket only (no SPDY)\n' : 'not served by the sky test kubelet\n');
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const m = /^\/portForward\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    const ports = [...url.searchParams.getAll('port'), ...url.searchParams.getAll('ports')].flatMap((p) => p.split(',')).map(Number);
    const target = m ? lookup(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)) : undefined;
    const refuse = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Bad Request'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    };
    if (!m) return refuse(404, 'not served by the sky test kubelet\n');
    if (target === undefined || (m[3] !== undefined && m[3] !== target.uid)) return refuse(404, `pod ${m[1]}/${m[2]} does not run on this node\n`);
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) return refuse(400, 'query parameter port: expected one or more ports\n');
    wss.handleUpgrade(req, socket, head, (ws) => forward(ws, target, ports));
  });

  const forward = (ws: WebSocket, target: StreamingTarget, ports: number[]): void => {
    const conns: Socket[] = [];
    ws.on('error', (err) => report(new Error(`port-forward WebSocket: ${err.message}`)));
    ports.forEach((port, i) => {
      ws.send(portBytes(2 * i, port));
      ws.send(portBytes(2 * i + 1, port));
      if (target.ip === undefined) {
        ws.send(frame(2 * i + 1, Buffer.from(`pod has no IP yet: nothing listens on port ${port}`)));
        ws.close();
        return;
      }
      // From the node's address: with isolated pods, only it reaches the pod network.
      const conn = connect({ host: target.ip, port, localAddress: host });
      state.forwards += 1;
      sockets.add(conn);
      conns[i] = conn;
      conn.setNoDelay(true);
      conn.on('data', (data: Buffer) => ws.send(frame(2 * i, data)));
      conn.on('error', (err) => {
        if (ws.readyState === ws.OPEN) ws.send(frame(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod at ${target.ip}: ${err.message}`)));
      });
      conn.on('close', () => {
        sockets.delete(conn);
        ws.close();
      });
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const buf = isBinary ? data : Buffer.from(data.toString('utf8'), 'utf8');
      if (buf.length === 0) return;
      const channel = buf[0]!;
      const conn = channel % 2 === 0 ? conns[channel / 2] : undefined;
      if (conn !== undefined && buf.length > 1) conn.write(buf.subarray(1));
    });
    ws.on('close', () => {
      for (const conn of conns) conn?.destroy();
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  state.port = typeof address === 'object' && address !== null ? address.port : 0;
  state.close = async () => {
    for (const ws of wss.clients) ws.terminate();
    for (const s of sockets) s.destroy();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}
