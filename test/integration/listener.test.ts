import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { SkyClient, parseEndpoint } from '@sky/client';
import { DAEMON_MAIN, killAllDaemons, localTokenFor, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';

/*
 * The daemon's socket timeouts, against a real daemon with short timeouts in its config: idle
 * keep-alive connections and slow senders are cut, while event streams and long-polls (which
 * carry no bytes for a while) keep working.
 */

const daemons: DaemonHandle[] = [];
const homes: string[] = [];
const sockets = new Set<Socket>();

after(async () => {
  for (const socket of sockets) socket.destroy();
  for (const d of daemons) {
    await d.stop();
    removeHome(d.home);
  }
  for (const home of homes) removeHome(home);
  await killAllDaemons();
});

const FAST = [
  'listen:',
  '  header_timeout_seconds: 1',
  '  request_timeout_seconds: 2',
  '  keep_alive_timeout_seconds: 1',
  '  idle_timeout_seconds: 2',
  'requests:',
  '  long_workers: 1',
  '  max_wait_seconds: 1',
  '',
].join('\n');

interface Raw {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
}

function raw(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    sockets.add(socket);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
  });
}

async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function bodyOf(text: string): { error?: { code?: string } } {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error?: { code?: string } };
}

describe('socket timeouts', () => {
  let d: DaemonHandle;
  let client: SkyClient;

  it('starts with short timeouts', async () => {
    d = await startDaemon({ config: FAST });
    daemons.push(d);
    client = new SkyClient({ endpoint: await parseEndpoint(d.url, 'test'), identity: { id: 'u-listener', name: 'listener' }, home: d.home });
  });

  it('closes a keep-alive connection that stays idle after its answer', async () => {
    const conn = await raw(d.port);
    conn.socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within('the idle keep-alive connection to be closed', conn.closed, 20_000);
    assert.match(conn.received(), /^HTTP\/1\.1 200 /);
  });

  it('answers headers sent too slowly with 408 REQUEST_TIMEOUT and closes', async () => {
    const conn = await raw(d.port);
    const drip = setInterval(() => conn.socket.writable && conn.socket.write('X'), 200);
    conn.socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    try {
      await within('the slow request to be cut', conn.closed, 20_000);
    } finally {
      clearInterval(drip);
    }
    assert.match(conn.received(), /^HTTP\/1\.1 408 /);
    assert.equal(bodyOf(conn.received()).error?.code, 'REQUEST_TIMEOUT');
  });

  it('answers a body sent too slowly with 408 REQUEST_TIMEOUT and closes', async () => {
    const conn = await raw(d.port);
    conn.socket.write(`POST /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nx-sky-local-token: ${localTokenFor(d.url) ?? ''}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`);
    const drip = setInterval(() => conn.socket.writable && conn.socket.write(' '), 200);
    try {
      await within('the slow body to be cut', conn.closed, 20_000);
    } finally {
      clearInterval(drip);
    }
    assert.match(conn.received(), /^HTTP\/1\.1 408 /);
  });

  it('keeps an event stream open through silences longer than the idle timeout', async () => {
    // The long lane has one worker: the second ping waits (its log stream silent) until the first is done.
    const first = await client.submit('ping', { sleep: 4, lane: 'long' });
    const second = await client.submit('ping', { sleep: 1, lane: 'long' });
    const texts: string[] = [];
    const status = await client.streamLogs(second.requestId, { follow: true }, (chunk) => texts.push(chunk.text));
    assert.equal(status, 'SUCCEEDED', texts.join(''));
    assert.equal((await client.get(first.requestId)).status, 'SUCCEEDED');
    assert.match(texts.join(''), /sleeping 1s/);
  });

  it('serves long-polls up to requests.max_wait_seconds', async () => {
    const { requestId } = await client.submit('ping', { sleep: 1.5 });
    const record = await client.waitUntilDone(requestId, { pollSeconds: 1 });
    assert.equal(record.status, 'SUCCEEDED');
    client.close();
  });
});

describe('timeouts that contradict each other', () => {
  for (const [config, message] of [
    ['listen:\n  idle_timeout_seconds: 30\nrequests:\n  max_wait_seconds: 60\n', /listen\.idle_timeout_seconds \(30\) must be longer than requests\.max_wait_seconds \(60\)/],
    ['listen:\n  header_timeout_seconds: 30\n  request_timeout_seconds: 10\n', /listen\.request_timeout_seconds \(10\) is shorter than listen\.header_timeout_seconds \(30\)/],
  ] as const) {
    it(`refuses to start: ${message.source.slice(0, 40)}…`, async () => {
      const home = tempHome();
      homes.push(home);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(`${home}/daemon.yaml`, config);
      const res = spawnSync(process.execPath, [DAEMON_MAIN, '--port', '0', '--config', `${home}/daemon.yaml`], { env: { ...process.env, HOME: home }, encoding: 'utf8', timeout: 20_000 });
      assert.equal(res.status, 1, res.stderr);
      assert.match(res.stderr, message);
      assert.match(res.stderr, /hint: /);
    });
  }
});
