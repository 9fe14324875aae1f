import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../helpers/daemon-process.js';
import pino from 'pino';
import { MemoryStateStore, makeService, makeServiceVersionSpec } from '@sky/plugin-api/testing';
import { loadSecretsKey, openBodySecrets, sealBodySecrets, SecretBox } from '@sky/daemon';
import type { RequestRecord } from '@sky/protocol';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function keyFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sky-secretbox-'));
  dirs.push(dir);
  return join(dir, 'secrets.key');
}

const silent = pino({ level: 'silent' });

function pending(body: unknown): RequestRecord {
  return { id: `r-${Math.random().toString(36).slice(2)}`, name: 'launch', user: 'u', userName: 'u', workspace: 'default', lane: 'long', status: 'PENDING', createdAt: 1, body, attempts: 0 };
}

describe('SecretBox', () => {
  it('seals with a fresh IV each time and opens what it sealed', () => {
    const box = new SecretBox({ keyFile: keyFile() });
    const a = box.seal('hf_abc 🔑', 'HF_TOKEN');
    const b = box.seal('hf_abc 🔑', 'HF_TOKEN');
    assert.notEqual(a, b);
    assert.match(a, /^sky-sealed:v1:[0-9a-f]{16}:/);
    assert.doesNotMatch(a, /hf_abc/);
    assert.equal(box.open(a, 'HF_TOKEN'), 'hf_abc 🔑');
    assert.equal(box.sealedWith(a), box.keyId);
  });

  it('creates its key file 0600 on first use, and the next instance reads the same key', () => {
    const file = keyFile();
    const sealed = new SecretBox({ keyFile: file }).seal('v', 'N');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
    assert.equal(new SecretBox({ keyFile: file }).open(sealed, 'N'), 'v');
  });

  it('refuses a value moved to another name, altered, or sealed with another key', () => {
    const box = new SecretBox({ keyFile: keyFile() });
    const sealed = box.seal('value', 'A');
    assert.throws(() => box.open(sealed, 'B'), { code: 'SECRETS_KEY_UNAVAILABLE' });
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.at(-1);
    assert.throws(() => box.open(flipped, 'A'), { code: 'SECRETS_KEY_UNAVAILABLE' });
    const other = new SecretBox({ keyFile: keyFile() });
    assert.throws(() => other.open(sealed, 'A'), (err: Error) => {
      assert.match(err.message, new RegExp(`sealed with key ${box.keyId}, but this daemon holds key ${other.keyId ?? '[0-9a-f]+'}`));
      return true;
    });
  });

  it('passes values stored before encryption at rest through unchanged', () => {
    const box = new SecretBox({ keyFile: keyFile() });
    assert.equal(box.open('plain-old-value', 'X'), 'plain-old-value');
  });

  it('refuses a key file that does not hold a key', () => {
    const file = keyFile();
    writeFileSync(file, 'not a key\n', { mode: 0o600 });
    assert.throws(() => new SecretBox({ keyFile: file }).seal('v', 'N'), { code: 'SECRETS_KEY_UNAVAILABLE', message: /does not hold a 32-byte base64 key/ });
  });
});

describe('the key file', () => {
  it('replicas creating one shared key file at once all end up with the one key that was linked into place, whole', async () => {
    const path = keyFile();
    // Real threads, each creating the key at the same moment (the build's module: workers do not run TypeScript).
    const module = pathToFileURL(join(REPO_ROOT, 'core/daemon/dist/secrets/key-file.js')).href;
    const code = `const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.module).then(({ createKeyFile }) => {
        Atomics.wait(new Int32Array(workerData.gate), 0, 0);
        parentPort.postMessage(createKeyFile(workerData.path).toString('base64'));
      });`;
    const gate = new SharedArrayBuffer(4);
    const workers = Array.from({ length: 6 }, () => new Worker(code, { eval: true, execArgv: [], workerData: { module, path, gate } }));
    const keys = workers.map((w) => new Promise<string>((resolve, reject) => w.once('message', resolve).once('error', reject)));
    await new Promise((r) => setTimeout(r, 200));
    Atomics.store(new Int32Array(gate), 0, 1);
    Atomics.notify(new Int32Array(gate), 0);
    const got = await Promise.all(keys);
    await Promise.all(workers.map((w) => w.terminate()));
    assert.equal(new Set(got).size, 1, 'every creator got the same key');
    assert.equal(readFileSync(path, 'utf8'), `${got[0]}\n`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dirname(path)), ['secrets.key'], 'no temporary file is left');
  });
});

describe('sealed request bodies', () => {
  it('seal every secrets map (numbers and booleans as the task parser reads them) and open them again', () => {
    const box = new SecretBox({ keyFile: keyFile() });
    const body = { cluster: 'c', task: { envs: { A: '1' }, secrets: { TOKEN: 'a b c!', N: 42, B: true, LATER: null }, run: 'x' } };
    const sealed = sealBodySecrets(box, body) as typeof body;
    assert.deepEqual(sealed.task.envs, { A: '1' });
    assert.equal(sealed.task.secrets.LATER, null);
    for (const name of ['TOKEN', 'N', 'B'] as const) assert.match(String(sealed.task.secrets[name]), /^sky-sealed:v1:/);
    // Not a word a sealed value's hex key id or base64url text could hold by chance.
    assert.doesNotMatch(JSON.stringify(sealed), /a b c!/);
    assert.deepEqual(openBodySecrets(box, sealed), { ...body, task: { ...body.task, secrets: { TOKEN: 'a b c!', N: '42', B: 'true', LATER: null } } });
    assert.deepEqual(body.task.secrets.TOKEN, 'a b c!', 'the input is not changed');
  });
});

describe('loadSecretsKey', () => {
  it('creates the key at the first start', async () => {
    const file = keyFile();
    const box = new SecretBox({ keyFile: file });
    const store = new MemoryStateStore();
    await store.open();
    await loadSecretsKey(box, store, { keyFile: file, allowUnreadable: false, logger: silent });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(box.keyId);
  });

  it('refuses to start when queued requests hold secrets sealed with a key that is gone, unless told to accept the loss', async () => {
    const file = keyFile();
    const first = new SecretBox({ keyFile: file });
    const store = new MemoryStateStore();
    await store.open();
    await store.requests.create(pending(sealBodySecrets(first, { task: { secrets: { T: 'v' } } })));
    rmSync(file);
    const again = new SecretBox({ keyFile: file });
    await assert.rejects(loadSecretsKey(again, store, { keyFile: file, allowUnreadable: false, logger: silent }), {
      code: 'SECRETS_KEY_UNAVAILABLE',
      message: new RegExp(`is missing, but queued requests and unfinished jobs hold secrets sealed with it \\(1 sealed with key ${first.keyId}\\)`),
    });
    await loadSecretsKey(again, store, { keyFile: file, allowUnreadable: true, logger: silent });
    assert.notEqual(again.keyId, first.keyId);
  });

  it('refuses a key file that is not the one that sealed queued secrets', async () => {
    const store = new MemoryStateStore();
    await store.open();
    const sealer = new SecretBox({ keyFile: keyFile() });
    await store.requests.create(pending(sealBodySecrets(sealer, { task: { secrets: { T: 'v' } } })));
    const file = keyFile();
    new SecretBox({ keyFile: file }).seal('another key', 'X');
    await assert.rejects(loadSecretsKey(new SecretBox({ keyFile: file }), store, { keyFile: file, allowUnreadable: false, logger: silent }), {
      code: 'SECRETS_KEY_UNAVAILABLE',
      message: /is not the one that sealed the secrets of queued requests/,
    });
  });

  it('counts the secrets of every kept service version as in use', async () => {
    const file = keyFile();
    const first = new SecretBox({ keyFile: file });
    const store = new MemoryStateStore();
    await store.open();
    const task = (value: string): unknown => sealBodySecrets(first, { run: 'serve', secrets: { T: value } });
    await store.services.create(makeService({ version: 2 }), makeServiceVersionSpec({ task: task('one') }));
    await store.services.putVersion('svc', makeServiceVersionSpec({ version: 2, task: task('two') }));
    rmSync(file);
    await assert.rejects(loadSecretsKey(new SecretBox({ keyFile: file }), store, { keyFile: file, allowUnreadable: false, logger: silent }), {
      code: 'SECRETS_KEY_UNAVAILABLE',
      message: new RegExp(`\\(2 sealed with key ${first.keyId}\\)`),
    });
  });

  it('makes an existing key file private', async () => {
    const file = keyFile();
    new SecretBox({ keyFile: file }).seal('v', 'N');
    chmodSync(file, 0o644);
    const store = new MemoryStateStore();
    await store.open();
    await loadSecretsKey(new SecretBox({ keyFile: file }), store, { keyFile: file, allowUnreadable: false, logger: silent });
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });
});
