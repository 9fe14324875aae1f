import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { SkyError } from '@sky/protocol';
import { ServiceLoadBalancer, type LoadBalancerOptions } from '../../core/daemon/src/serve/load-balancer.js';

/*
 * The load balancer of sky serve against real node:http replicas on loopback, all on ports
 * the kernel picks: balancing, streaming both ways, retries past a dead replica, the bearer
 * token, and its listener's life.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Backend {
  id: number;
  endpoint: string;
  seen: Seen[];
  server: Server;
  kill(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, backend: Backend) => void;

const backends: Backend[] = [];
const balancers: ServiceLoadBalancer[] = [];

after(async () => {
  for (const lb of balancers) await lb.stop();
  for (const b of backends) await b.kill();
});

/** A replica answering `replica <id> <path>` after reading the whole body, unless `handler` answers instead. */
async function backend(id: number, handler?: Handler): Promise<Backend> {
  const server = createServer();
  const self: Backend = {
    id,
    endpoint: '',
    seen: [],
    server,
    kill: async () => {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handler !== undefined) {
      self.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
      handler(req, res, self);
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      self.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.end(`replica ${id} ${req.url ?? ''}${body === '' ? '' : ` ${body}`}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  self.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  backends.push(self);
  return self;
}

async function balancer(options: Partial<LoadBalancerOptions> = {}, replicas: Backend[] = []): Promise<ServiceLoadBalancer> {
  const lb = new ServiceLoadBalancer({ host: '127.0.0.1', port: 0, policy: 'round_robin', ...options });
  await lb.start();
  balancers.push(lb);
  lb.setReplicas(replicas.map((b) => ({ id: b.id, endpoint: b.endpoint })));
  return lb;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(lb: ServiceLoadBalancer, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: lb.port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('serve load balancer: balancing', () => {
  it('round_robin spreads requests evenly over three replicas', async () => {
    const replicas = await Promise.all([backend(1), backend(2), backend(3)]);
    const lb = await balancer({}, replicas);
    for (let i = 0; i < 30; i++) {
      const answer = await call(lb, `/r${i}`);
      assert.equal(answer.status, 200);
      assert.match(answer.body, new RegExp(`^replica \\d /r${i}$`));
    }
    assert.deepEqual(replicas.map((b) => b.seen.length), [10, 10, 10]);
    assert.deepEqual(lb.stats(), { inFlight: 0, total: 30, failed: 0, perReplica: { 1: 10, 2: 10, 3: 10 } });
  });

  it('least_load sends to the idle replica while another is busy', async () => {
    const release = deferred();
    const held = deferred();
    const slowOrFast: Handler = (req, res, self) => {
      if (req.url === '/slow') {
        held.resolve();
        void release.promise.then(() => res.end(`replica ${self.id} slow`));
      } else res.end(`replica ${self.id} fast`);
    };
    const replicas = await Promise.all([backend(11, slowOrFast), backend(12, slowOrFast), backend(13, slowOrFast)]);
    const lb = await balancer({ policy: 'least_load' }, replicas);
    const slow = call(lb, '/slow');
    await held.promise;
    const busy = replicas.find((b) => b.seen.some((s) => s.url === '/slow'))!;
    assert.equal(lb.stats().inFlight, 1);
    for (let i = 0; i < 12; i++) assert.match((await call(lb, '/fast')).body, /fast$/);
    assert.equal(busy.seen.length, 1, 'the busy replica got nothing more');
    for (const b of replicas) if (b !== busy) assert.equal(b.seen.length, 6, 'the idle ones share the rest in turn');
    release.resolve();
    assert.equal((await slow).body, `replica ${busy.id} slow`);
    // Switched to round_robin, the formerly busy replica takes its turn again.
    lb.setPolicy('round_robin');
    for (let i = 0; i < 3; i++) await call(lb, '/fast');
    assert.equal(busy.seen.length, 2);
  });
});

describe('serve load balancer: streaming', () => {
  it('passes server-sent events on one by one, before the replica ends its answer', async () => {
    const next = deferred<ServerResponse>();
    const replica = await backend(21, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      next.resolve(res);
    });
    const lb = await balancer({}, [replica]);
    const answer = await new Promise<IncomingMessage>((resolve, reject) => request({ host: '127.0.0.1', port: lb.port, path: '/events', agent: false }, resolve).on('error', reject).end());
    // The headers came through before a single event was written.
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers['content-type'], 'text/event-stream');
    const upstream = await next.promise;
    answer.setEncoding('utf8');
    const received: string[] = [];
    for (let i = 1; i <= 5; i++) {
      upstream.write(`data: token ${i}\n\n`);
      // The replica writes the next event only once the client holds this one.
      const [chunk] = (await once(answer, 'data')) as [string];
      received.push(chunk);
    }
    upstream.end();
    await once(answer, 'end');
    assert.deepEqual(received, [1, 2, 3, 4, 5].map((i) => `data: token ${i}\n\n`));
  });

  it('drops the replica side of a stream its client leaves, without blaming the replica', async () => {
    const upstreamClosed = deferred();
    const started = deferred();
    const replica = await backend(23, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      res.on('close', () => upstreamClosed.resolve());
      started.resolve();
    });
    const logged: string[] = [];
    const lb = await balancer({ log: (line) => logged.push(line) }, [replica]);
    const client = request({ host: '127.0.0.1', port: lb.port, path: '/events', agent: false });
    client.on('error', () => undefined);
    client.end();
    const [answer] = (await once(client, 'response')) as [IncomingMessage];
    await once(answer, 'data');
    await started.promise;
    client.destroy();
    await upstreamClosed.promise;
    while (lb.stats().inFlight > 0) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(logged, []);
    assert.equal(lb.stats().failed, 0);
  });

  it('streams a chunked request body to the replica as it is sent', async () => {
    const gotChunk = deferred<IncomingMessage>();
    const replica = await backend(22, (req, res) => {
      const parts: string[] = [];
      req.setEncoding('utf8');
      let first = true;
      req.on('data', (chunk: string) => {
        parts.push(chunk);
        if (first) gotChunk.resolve(req);
        first = false;
      });
      req.on('end', () => res.end(`${req.headers['transfer-encoding'] ?? 'no te'}|${parts.join('')}`));
    });
    const lb = await balancer({}, [replica]);
    const upload = request({ host: '127.0.0.1', port: lb.port, path: '/upload', method: 'POST', agent: false, headers: { 'content-type': 'text/plain' } });
    const response = once(upload, 'response') as Promise<[IncomingMessage]>;
    upload.write('first part;');
    // The replica has the first part while the client has not finished its body.
    const upstreamReq = await gotChunk.promise;
    assert.equal(upstreamReq.complete, false);
    upload.end('second part');
    const [res] = await response;
    let body = '';
    for await (const chunk of res) body += String(chunk);
    assert.equal(body, 'chunked|first part;second part');
  });
});

describe('serve load balancer: failures', () => {
  it('keeps GETs and POSTs succeeding after a replica dies, through retries and passive health', async () => {
    const logged: string[] = [];
    const replicas = await Promise.all([backend(31), backend(32), backend(33)]);
    const lb = await balancer({ log: (line) => logged.push(line) }, replicas);
    for (let i = 0; i < 3; i++) assert.equal((await call(lb, '/warm')).status, 200);
    await replicas[1]!.kill();
    for (let i = 0; i < 20; i++) {
      const answer = await call(lb, `/after${i}`);
      assert.equal(answer.status, 200, answer.body);
      assert.doesNotMatch(answer.body, /^replica 32/);
    }
    // Nothing can have reached a replica that refused the connection: a POST goes to another too.
    for (let i = 0; i < 6; i++) assert.equal((await call(lb, '/order', { method: 'POST', body: `n=${i}` })).status, 200);
    assert.equal(lb.stats().failed, 0);
    assert.ok(logged.some((line) => /replica 32 .*ECONNREFUSED/.test(line)), logged.join('\n'));
    assert.equal(replicas[1]!.seen.length, 1, 'only the warm-up reached the dead replica');
  });

  it('answers 502 to a POST the replica dropped mid-flight, and retries a GET dropped the same way', async () => {
    const drop: Handler = (req, res, self) => {
      if (req.url === '/drop') {
        req.resume();
        req.on('end', () => req.socket.destroy());
        return;
      }
      res.end(`replica ${self.id} ok`);
    };
    // The dropping replica is the only one for the POST: a retry would have had somewhere to go otherwise.
    const dropper = await backend(41, drop);
    const healthy = await backend(42);
    const lb = await balancer({}, [dropper, healthy]);
    const post = await call(lb, '/drop', { method: 'POST', body: 'charge=1' });
    assert.equal(post.status, 502);
    assert.match(post.body, /may have reached it/);
    assert.equal(dropper.seen.length, 1);
    assert.equal(healthy.seen.filter((s) => s.url === '/drop').length, 0, 'the POST was not sent twice');
    assert.equal(lb.stats().failed, 1);

    // A GET is safe to repeat: dropped by one replica, it is answered by the other.
    const dropper2 = await backend(43, drop);
    const healthy2 = await backend(44);
    const lb2 = await balancer({}, [dropper2, healthy2]);
    const get = await call(lb2, '/drop');
    assert.equal(get.status, 200);
    assert.equal(get.body, 'replica 44 /drop');
    assert.equal(dropper2.seen.length, 1);
    assert.equal(lb2.stats().failed, 0);
  });

  it('answers 503 with Retry-After while no replica is ready', async () => {
    const lb = await balancer();
    const answer = await call(lb, '/');
    assert.equal(answer.status, 503);
    assert.ok(Number(answer.headers['retry-after']) > 0);
    assert.match(answer.body, /no ready replica/);
    const replica = await backend(51);
    lb.setReplicas([{ id: 51, endpoint: replica.endpoint }]);
    assert.equal((await call(lb, '/')).status, 200);
    lb.setReplicas([]);
    assert.equal((await call(lb, '/')).status, 503);
    assert.equal(lb.stats().failed, 2);
  });
});

describe('serve load balancer: token and headers', () => {
  it('refuses requests without the bearer token and keeps the token from the replica', async () => {
    const replica = await backend(61);
    const lb = await balancer({ token: 's3cret-token' }, [replica]);
    const none = await call(lb, '/');
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.equal((await call(lb, '/', { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await call(lb, '/', { headers: { authorization: 'Basic czNjcmV0LXRva2Vu' } })).status, 401);
    assert.equal((await call(lb, '/', { headers: { authorization: 'Bearer s3cret-token-longer' } })).status, 401);
    assert.equal(replica.seen.length, 0);

    const ok = await call(lb, '/path?q=1', {
      headers: { authorization: 'Bearer s3cret-token', connection: 'keep-alive, x-hop', 'x-hop': 'only for the proxy', 'x-app': 'kept', 'x-forwarded-for': '203.0.113.9', host: 'svc.example:8080' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'replica 61 /path?q=1');
    const seen = replica.seen[0]!;
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['x-hop'], undefined);
    assert.equal(seen.headers['x-app'], 'kept');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], 'svc.example:8080');
    assert.equal(seen.headers.host, new URL(replica.endpoint).host);

    // Without a token the endpoint is open, and an Authorization header is the application's own.
    lb.setToken(undefined);
    assert.equal((await call(lb, '/', { headers: { authorization: 'Bearer app-level' } })).status, 200);
    assert.equal(replica.seen[1]!.headers.authorization, 'Bearer app-level');
  });
});

describe('serve load balancer: rate and listener', () => {
  it('qps() follows the traffic', async () => {
    const replica = await backend(71);
    const lb = await balancer({}, [replica]);
    assert.equal(lb.qps(), 0);
    for (let i = 0; i < 12; i++) await call(lb, '/');
    assert.equal(lb.qps(60), 12 / 60);
    assert.ok(lb.qps(1) > 0);
    for (let i = 0; i < 18; i++) await call(lb, '/');
    assert.equal(lb.qps(), 30 / 60);
  });

  it('refuses a taken port with PORT_IN_USE, and stop() frees its own', async () => {
    const replica = await backend(81);
    const lb = await balancer({}, [replica]);
    const taken = new ServiceLoadBalancer({ host: '127.0.0.1', port: lb.port, policy: 'round_robin' });
    await assert.rejects(taken.start(), (err: unknown) => err instanceof SkyError && err.code === 'PORT_IN_USE' && err.message.includes(String(lb.port)) && (err.hint ?? '') !== '');

    // A client holding a keep-alive connection does not keep the port busy after stop().
    const keepAlive = request({ host: '127.0.0.1', port: lb.port, path: '/', headers: { connection: 'keep-alive' } });
    keepAlive.end();
    const [res] = (await once(keepAlive, 'response')) as [IncomingMessage];
    res.resume();
    await once(res, 'end');
    const port = lb.port;
    await lb.stop();
    const again = new ServiceLoadBalancer({ host: '127.0.0.1', port, policy: 'round_robin' });
    await again.start();
    balancers.push(again);
    again.setReplicas([{ id: 81, endpoint: replica.endpoint }]);
    assert.equal((await call(again, '/')).body, 'replica 81 /');
  });
});
