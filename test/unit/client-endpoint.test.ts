import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CA_ENV, ENDPOINT_ENV, isLocalHost, maskSecrets, parseEndpoint, resolveEndpoint } from '@sky/client';
import { SkyError } from '@sky/protocol';

let home: string;

async function writeConfig(text: string): Promise<void> {
  await mkdir(join(home, '.sky'), { recursive: true });
  await writeFile(join(home, '.sky', 'config.yaml'), text);
}

async function rejection(promise: Promise<unknown>): Promise<SkyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('endpoint resolution', () => {
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'sky-endpoint-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('defaults to http://127.0.0.1:46580 with no env and no config', async () => {
    const endpoint = await resolveEndpoint({ env: {}, home });
    assert.equal(endpoint.url, 'http://127.0.0.1:46580');
    assert.equal(endpoint.host, '127.0.0.1');
    assert.equal(endpoint.port, 46580);
    assert.equal(endpoint.local, true);
    assert.equal(endpoint.authorization, undefined);
  });

  it('takes api_server.endpoint from ~/.sky/config.yaml over the default', async () => {
    await writeConfig('# team server\napi_server:\n  endpoint: http://sky.example.com:30050/\n');
    const endpoint = await resolveEndpoint({ env: {}, home });
    assert.equal(endpoint.url, 'http://sky.example.com:30050');
    assert.equal(endpoint.local, false);
    assert.match(endpoint.source, /config\.yaml line 3 \(api_server\.endpoint\)/);
  });

  it('takes the environment variable over the config file, ignoring an empty one', async () => {
    await writeConfig('api_server:\n  endpoint: http://sky.example.com:30050\n');
    const fromEnv = await resolveEndpoint({ env: { [ENDPOINT_ENV]: 'http://127.0.0.2:5000' }, home });
    assert.equal(fromEnv.url, 'http://127.0.0.2:5000');
    assert.equal(fromEnv.source, `$${ENDPOINT_ENV}`);
    const empty = await resolveEndpoint({ env: { [ENDPOINT_ENV]: '  ' }, home });
    assert.equal(empty.url, 'http://sky.example.com:30050');
  });

  it('ignores a config file without api_server.endpoint', async () => {
    await writeConfig('other: 1\napi_server:\n  endpoint:\n');
    assert.equal((await resolveEndpoint({ env: {}, home })).url, 'http://127.0.0.1:46580');
    await writeConfig('');
    assert.equal((await resolveEndpoint({ env: {}, home })).url, 'http://127.0.0.1:46580');
  });

  it('names the file and line of malformed YAML', async () => {
    await writeConfig('api_server:\n  endpoint: "http://x:1\nother: [1,\n');
    const err = await rejection(resolveEndpoint({ env: {}, home }));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.ok(err.message.includes(join(home, '.sky', 'config.yaml')), err.message);
    assert.match(err.message, /line \d+, column \d+/);
  });

  it('names the key and line when endpoint is not a string, or the section not a mapping', async () => {
    await writeConfig('api_server:\n  endpoint: 42\n');
    const err = await rejection(resolveEndpoint({ env: {}, home }));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /config\.yaml line 2 \(api_server\.endpoint\): must be a URL string, got number/);
    await writeConfig('api_server: http://x:1\n');
    assert.match((await rejection(resolveEndpoint({ env: {}, home }))).message, /line 1: api_server must be a mapping/);
    await writeConfig('- a\n- b\n');
    assert.match((await rejection(resolveEndpoint({ env: {}, home }))).message, /must be a mapping/);
  });

  it('rejects a non-URL or non-http endpoint naming where it came from', async () => {
    const bad = await rejection(resolveEndpoint({ env: { [ENDPOINT_ENV]: 'not a url' }, home }));
    assert.equal(bad.code, 'CONFIG_INVALID');
    assert.match(bad.message, /^\$SKYPILOT_API_SERVER_ENDPOINT: "not a url" is not a URL/);
    const ftp = await rejection(parseEndpoint('ftp://host:21', 'test'));
    assert.match(ftp.message, /must start with http:\/\/ or https:\/\//);
  });
});

describe('credentials in the endpoint URL', () => {
  it('become a Basic authorization header and never appear in the printed URL', async () => {
    const endpoint = await parseEndpoint('http://alice:s3cr%40t-pw@sky.example.com:30050', 'test');
    assert.equal(endpoint.url, 'http://sky.example.com:30050');
    assert.equal(endpoint.authorization, `Basic ${Buffer.from('alice:s3cr@t-pw').toString('base64')}`);
    assert.ok(!JSON.stringify({ url: endpoint.url, source: endpoint.source }).includes('s3cr'));
  });

  it('are masked out of any text that quotes them', async () => {
    const endpoint = await parseEndpoint('http://alice:s3cr%40t-pw@sky.example.com:30050', 'test');
    const text = 'connect to http://alice:s3cr%40t-pw@sky.example.com:30050 failed; password s3cr@t-pw';
    const masked = maskSecrets(text, endpoint);
    assert.ok(!masked.includes('s3cr'), masked);
    assert.ok(masked.includes('http://sky.example.com:30050'), masked);
  });

  it('are masked even in a URL that does not parse', async () => {
    const err = await rejection(parseEndpoint('http://bob:hunter22@[bad', 'test'));
    assert.ok(!err.message.includes('hunter22'), err.message);
    assert.ok(err.message.includes('http://***@[bad'), err.message);
  });
});

describe('isLocalHost', () => {
  it('is true for loopback names and addresses only', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]']) assert.equal(isLocalHost(host), true, host);
    for (const host of ['10.255.255.1', '192.168.0.1', '0.0.0.0', 'sky.example.com', '128.0.0.1', 'localhost.example.com', '::2']) {
      assert.equal(isLocalHost(host), false, host);
    }
  });
});

describe('the default local endpoint, the only one started automatically', () => {
  it('is http://127.0.0.1:46580 or http://localhost:46580 (any case, a trailing slash)', async () => {
    for (const url of ['http://127.0.0.1:46580', 'http://localhost:46580', 'http://LOCALHOST:46580/', 'http://127.0.0.1:46580/']) {
      assert.equal((await parseEndpoint(url, 'test')).autoStart, true, url);
    }
    const empty = await mkdtemp(join(tmpdir(), 'sky-endpoint-'));
    try {
      assert.equal((await resolveEndpoint({ env: {}, home: empty })).autoStart, true);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('is no other URL: another port, another loopback address, IPv6, https, a path prefix, a remote host', async () => {
    for (const url of [
      'http://127.0.0.1:8000',
      'http://127.0.0.2:46580',
      'http://[::1]:46580',
      'https://127.0.0.1:46580',
      'http://127.0.0.1:46580/sky',
      'http://sky.example.com:46580',
      'http://127.0.0.1',
    ]) {
      const endpoint = await parseEndpoint(url, 'test');
      assert.equal(endpoint.autoStart, false, url);
    }
  });
});

describe('the CA bundle for an https endpoint', () => {
  let caHome: string;
  before(async () => {
    caHome = await mkdtemp(join(tmpdir(), 'sky-endpoint-ca-'));
    await mkdir(join(caHome, '.sky'), { recursive: true });
  });
  after(async () => {
    await rm(caHome, { recursive: true, force: true });
  });
  const config = (text: string): Promise<void> => writeFile(join(caHome, '.sky', 'config.yaml'), text);

  it('is absent (system CAs) unless configured', async () => {
    await config('api_server:\n  endpoint: https://sky.example.com:46580\n');
    assert.equal((await resolveEndpoint({ env: {}, home: caHome })).ca, undefined);
  });

  it('comes from api_server.ca_file, relative to ~/.sky, with ~ expanded, naming its line', async () => {
    await config('api_server:\n  endpoint: https://sky.example.com:46580\n  ca_file: team-ca.pem\n');
    const relative = await resolveEndpoint({ env: {}, home: caHome });
    assert.equal(relative.ca?.file, join(caHome, '.sky', 'team-ca.pem'));
    assert.match(relative.ca?.source ?? '', /config\.yaml line 3 \(api_server\.ca_file\)/);
    await config('api_server:\n  ca_file: ~/certs/ca.pem\n');
    assert.equal((await resolveEndpoint({ env: {}, home: caHome })).ca?.file, join(caHome, 'certs', 'ca.pem'));
  });

  it('takes $SKYPILOT_API_SERVER_CA over the config file', async () => {
    await config('api_server:\n  ca_file: /etc/ssl/team-ca.pem\n');
    const endpoint = await resolveEndpoint({ env: { [CA_ENV]: '/opt/other-ca.pem' }, home: caHome });
    assert.deepEqual(endpoint.ca, { file: '/opt/other-ca.pem', source: '$SKYPILOT_API_SERVER_CA' });
  });

  it('names the key and line when ca_file is not a string', async () => {
    await config('api_server:\n  ca_file: [a, b]\n');
    const err = await rejection(resolveEndpoint({ env: {}, home: caHome }));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /config\.yaml line 2 \(api_server\.ca_file\): must be a file path, got a nested block/);
  });
});
