import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { http, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';

/*
 * Finding: ~20,000 idle unauthenticated connections locked out every client. Replayed with raw
 * sockets (the attack is below HTTP) against a real daemon whose caps are lowered in its config.
 * Every 127.x.y.z address is loopback, so each source address below is a different client.
 */

const daemons: DaemonHandle[] = [];
const sockets = new Set<Socket>();

after(async () => {
  for (const socket of sockets) socket.destroy();
  for (const d of daemons) {
    await d.stop();
    removeHome(d.home);
  }
  await killAllDaemons();
});

interface Conn {
  socket: Socket;
  /** Everything the daemon sent. */
  received: () => string;
  /** Resolves once the connection is established (or failed). */
  ready: Promise<void>;
  /** Resolves when the connection closes. */
  closed: Promise<void>;
  closedByUs: boolean;
}

/** A raw TCP connection from `localAddress`; `send` is written once connected. */
function open(port: number, localAddress: string, send?: string): Conn {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  sockets.add(socket);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  const conn: Conn = {
    socket,
    received: () => text,
    ready: new Promise((resolve) => {
      socket.once('connect', () => {
        if (send !== undefined) socket.write(send);
        resolve();
      });
      socket.once('error', () => resolve());
    }),
    closed: new Promise((resolve) =>
      socket.once('close', () => {
        sockets.delete(socket);
        resolve();
      }),
    ),
    closedByUs: false,
  };
  return conn;
}

/** Open `count` connections from one address, `batch` at a time (so the listen backlog is not what refuses them). */
async function flood(port: number, localAddress: string, count: number, batch = 200): Promise<Conn[]> {
  const all: Conn[] = [];
  for (let i = 0; i < count; i += batch) {
    const some = Array.from({ length: Math.min(batch, count - i) }, () => open(port, localAddress));
    await Promise.all(some.map((c) => c.ready));
    all.push(...some);
  }
  return all;
}

function errorCode(text: string): string | undefined {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function refusalLines(d: DaemonHandle): Array<{ refused: number; overPerAddressCap: number; overTotalCap: number }> {
  return readFileSync(join(d.home, '.sky/api_server/server.log'), 'utf8')
    .split('\n')
    .filter((line) => line.includes('refused connections over the connection caps'))
    .map((line) => JSON.parse(line) as { refused: number; overPerAddressCap: number; overTotalCap: number });
}

async function healthy(d: DaemonHandle, localAddress: string): Promise<void> {
  const res = await http(`${d.url}/api/health`, { localAddress });
  assert.equal(res.status, 200, res.text);
}

describe('idle connections cannot lock clients out', () => {
  it('one address holding thousands of idle sockets: other clients are served, it gets 503 until its sockets time out', async () => {
    const cap = 100;
    const d = await startDaemon({ config: `listen:\n  max_connections_per_address: ${cap}\n  header_timeout_seconds: 5\n  request_timeout_seconds: 5\n` });
    daemons.push(d);
    // The attacker fills its budget with sockets that never send a byte.
    const idle = await flood(d.port, '127.0.0.2', cap);
    // A legitimate client behind the same address is told why, in the error shape.
    const same = await http(`${d.url}/api/health`, { localAddress: '127.0.0.2' }).catch((err: Error) => err);
    assert.ok(!(same instanceof Error), `the refused client got an answer, not ${String(same)}`);
    assert.equal(same.status, 503, same.text);
    assert.equal((same.json() as { error: { code: string } }).error.code, 'TOO_MANY_CONNECTIONS');
    assert.equal(same.headers['retry-after'], '5');
    // Everyone else is served.
    await healthy(d, '127.0.0.3');
    // Thousands more from the attacker are refused cheaply with the same 503.
    const more = await flood(d.port, '127.0.0.2', 2900);
    await eventually('the refused sockets to be answered and closed', async () => {
      await Promise.race([Promise.all(more.map((c) => c.closed)), new Promise((resolve) => setTimeout(resolve, 200))]);
      return more.filter((c) => c.received() !== '').every((c) => c.socket.destroyed);
    });
    const refused = more.filter((c) => c.received().startsWith('HTTP/1.1 503'));
    assert.ok(refused.length >= 2000, `${refused.length} of 2900 over-cap sockets were refused with 503`);
    assert.ok(refused.every((c) => errorCode(c.received()) === 'TOO_MANY_CONNECTIONS'));
    await healthy(d, '127.0.0.4');
    // Sockets that never send headers are dropped after the header timeout, without an answer.
    await eventually('the idle sockets to be dropped by the daemon', async () => {
      await Promise.race([Promise.all(idle.map((c) => c.closed)), new Promise((resolve) => setTimeout(resolve, 200))]);
      return idle.every((c) => c.socket.destroyed);
    });
    assert.ok(idle.every((c) => c.received() === ''), 'a socket that sent nothing gets nothing back');
    // Then the legitimate client on the attacker's address is served again.
    await eventually('the budget of 127.0.0.2 to be free again', async () => (await http(`${d.url}/api/health`, { localAddress: '127.0.0.2' })).status === 200);
    // The refusals are counted in the log, a few lines for thousands of refusals.
    const lines = refusalLines(d);
    assert.ok(lines.length >= 1 && lines.length <= 6, `${lines.length} log lines`);
    assert.ok(lines.every((l) => l.overPerAddressCap >= 1));
    assert.equal(d.child.exitCode, null, 'the daemon is still running');
  });

  it('the total cap keeps the daemon below its open-file limit; it recovers when the idle sockets time out', async () => {
    const d = await startDaemon({
      config: 'listen:\n  max_connections_per_address: 50\n  max_connections: 200\n  header_timeout_seconds: 3\n  request_timeout_seconds: 3\n',
    });
    daemons.push(d);
    const idle = (await Promise.all(['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'].map((a) => flood(d.port, a, 50)))).flat();
    // A fifth client finds the daemon full: its connection is closed at once.
    const full = await http(`${d.url}/api/health`, { localAddress: '127.0.0.15' }).then(
      (res) => `answered ${res.status}`,
      (err: NodeJS.ErrnoException) => err.code ?? err.message,
    );
    assert.match(full, /ECONNRESET|socket hang up/);
    await eventually('the idle sockets to time out', async () => {
      await Promise.race([Promise.all(idle.map((c) => c.closed)), new Promise((resolve) => setTimeout(resolve, 200))]);
      return idle.every((c) => c.socket.destroyed);
    });
    await healthy(d, '127.0.0.15');
    assert.ok(refusalLines(d).some((l) => l.overTotalCap >= 1), 'the refusal over the total cap is logged');
  });

  it('X-Forwarded-For names the client only when the peer is a trusted proxy', async () => {
    const d = await startDaemon({ config: 'listen:\n  max_connections_per_address: 3\n  trusted_proxies: ["127.0.0.5"]\n  header_timeout_seconds: 10\n' });
    daemons.push(d);
    const get = (xff: string): string => `GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: ${xff}\r\n\r\n`;
    // The status line and headers, and for a refusal (which closes the connection) the whole body.
    const answer = async (conn: Conn): Promise<string> => {
      await eventually('an answer', () => /^HTTP\/1\.1 200 /.test(conn.received()) || conn.socket.destroyed, 10_000);
      return conn.received();
    };
    // Six people behind the proxy do not share one budget of three connections.
    const behind = Array.from({ length: 6 }, (_, i) => open(d.port, '127.0.0.5', get(`10.20.0.${i + 1}`)));
    for (const conn of behind) assert.match(await answer(conn), /^HTTP\/1\.1 200 /);
    // One of them opening a fourth connection through the proxy is refused.
    const same: Conn[] = [];
    for (let i = 0; i < 4; i++) {
      const conn = open(d.port, '127.0.0.5', get('10.30.0.1'));
      same.push(conn);
      const text = await answer(conn);
      if (i < 3) assert.match(text, /^HTTP\/1\.1 200 /, `connection ${i + 1}`);
      else {
        assert.match(text, /^HTTP\/1\.1 503 /);
        assert.equal(errorCode(text), 'TOO_MANY_CONNECTIONS');
        assert.match(text, /too many connections from 10\.30\.0\.1/);
      }
    }
    // A peer that is not a trusted proxy cannot claim other addresses to escape its cap.
    const spoofed: string[] = [];
    for (let i = 0; i < 4; i++) spoofed.push(await answer(open(d.port, '127.0.0.6', get(`10.40.0.${i + 1}`))));
    assert.deepEqual(spoofed.map((t) => t.slice(0, 12)), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 503']);
    assert.match(spoofed[3] ?? '', /too many connections from 127\.0\.0\.6/);
    await healthy(d, '127.0.0.7');
  });
});
