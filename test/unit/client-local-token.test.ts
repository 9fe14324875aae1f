import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SkyClient, parseEndpoint } from '@sky/client';
import { API_VERSION } from '@sky/protocol';
import { removeHome, tempHome } from '../helpers/daemon-process.js';

// The client's side of the personal daemon's local token: read from ~/.sky/api_server/local_token,
// sent to a loopback endpoint without other credentials only, read again after a 401.

const TOKEN_A = `skl_${'a'.repeat(43)}`;
const TOKEN_B = `skl_${'b'.repeat(43)}`;

let server: Server;
let port: number;
let home: string;
let expected = TOKEN_A;
const received: Array<string | undefined> = [];

function writeToken(token: string): void {
  mkdirSync(join(home, '.sky/api_server'), { recursive: true });
  writeFileSync(join(home, '.sky/api_server/local_token'), `${token}\n`, { mode: 0o600 });
}

before(async () => {
  home = tempHome();
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const token = req.headers['x-sky-local-token'];
    received.push(typeof token === 'string' ? token : undefined);
    const ok = token === expected || req.headers.authorization !== undefined;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json', 'x-sky-api-version': String(API_VERSION) });
    res.end(JSON.stringify(ok ? { id: 'x', name: 'x', role: 'admin', via: 'local' } : { error: { code: 'UNAUTHENTICATED', message: 'no local token' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  removeHome(home);
});

async function client(url: string): Promise<SkyClient> {
  return new SkyClient({ endpoint: await parseEndpoint(url, 'test'), identity: { id: 'abcd1234', name: 'tester' }, home });
}

describe('the local token in the client', () => {
  it('is read once the daemon wrote it, and sent to the loopback endpoint', async () => {
    received.length = 0;
    const c = await client(`http://127.0.0.1:${port}`);
    try {
      await assert.rejects(c.whoami(), /no local token/);
      writeToken(TOKEN_A);
      await c.whoami();
      assert.deepEqual(received, [undefined, TOKEN_A]);
    } finally {
      c.close();
    }
  });

  it('is read again, and the call retried once, when the daemon made a new one', async () => {
    received.length = 0;
    const c = await client(`http://127.0.0.1:${port}`);
    try {
      await c.whoami();
      writeToken(TOKEN_B);
      expected = TOKEN_B;
      await c.whoami();
      assert.deepEqual(received, [TOKEN_A, TOKEN_A, TOKEN_B]);
    } finally {
      c.close();
      expected = TOKEN_A;
      writeToken(TOKEN_A);
    }
  });

  it('never goes along with a team server\'s credentials', async () => {
    received.length = 0;
    const c = await client(`http://alice:secret-pw@127.0.0.1:${port}`);
    try {
      await c.whoami();
      assert.deepEqual(received, [undefined]);
    } finally {
      c.close();
    }
  });
});
