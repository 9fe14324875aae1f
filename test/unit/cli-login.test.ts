import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { main } from '../../cli/src/index.js';
import { redirectOutput, rememberSecrets } from '../../cli/src/output.js';
import { resolveEndpoint } from '../../core/client/src/endpoint.js';
import { CsvError, parseUsersCsv, tokenTable, userTable } from '../../cli/src/users-format.js';

const TOKEN = 'sky_tok_abcdef1234567890';
const EXPIRED = 'sky_tok_expired999999999';
let server: Server;
let port: number;
let home: string;
const seen: { method: string; url: string; authorization: string | undefined }[] = [];

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  send(res, status, { error: { code, message } }, headers);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const authorization = req.headers.authorization;
  seen.push({ method: req.method ?? '', url: req.url ?? '', authorization });
  const basic = `Basic ${Buffer.from('alice:correct-horse').toString('base64')}`;
  if (authorization === `Bearer ${EXPIRED}`) return fail(res, 401, 'UNAUTHENTICATED', 'the token has expired');
  if (authorization === `Basic ${Buffer.from('mallory:x').toString('base64')}`) return fail(res, 429, 'TOO_MANY_ATTEMPTS', 'too many failed logins', { 'retry-after': '30' });
  if (authorization !== basic && authorization !== `Bearer ${TOKEN}`) {
    // Echo the credentials back, as a careless server might: the CLI must mask them.
    return fail(res, 401, 'UNAUTHENTICATED', `bad credentials ${authorization ?? ''}`);
  }
  const url = req.url ?? '';
  if (url === '/api/v1/users/me') return send(res, 200, { id: 'u-1', name: 'alice', role: 'admin', via: authorization === basic ? 'basic' : 'token' });
  if (url === '/api/v1/users') return send(res, 200, { items: [{ id: 'u-1', name: 'alice', role: 'admin', createdAt: Date.now() - 3_600_000 }] });
  if (url === '/api/v1/tokens' && req.method === 'POST') {
    return send(res, 201, { token: 'sky_tok_NEWSECRET', record: { id: 't-9', name: 'ci', userId: 'u-1', userName: 'alice', createdAt: Date.now() } });
  }
  if (url.startsWith('/api/v1/tokens/missing')) return fail(res, 404, 'TOKEN_NOT_FOUND', `no token missing (auth ${authorization ?? ''})`);
  return fail(res, 404, 'NOT_FOUND', 'no route');
}

async function sky(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const restore = redirectOutput({ out: (t) => (stdout += t), err: (t) => (stderr += t) });
  try {
    const code = await main(['node', 'sky', ...args]);
    return { code, stdout, stderr };
  } finally {
    restore();
    rememberSecrets([]);
  }
}

const configFile = (): string => join(home, '.sky', 'config.yaml');
const base = (): string => `http://127.0.0.1:${port}`;
const withCreds = (user: string, pass: string): string => `http://${user}:${pass}@127.0.0.1:${port}`;

describe('sky api login / logout against a fake API server', () => {
  const saved: Record<string, string | undefined> = {};
  before(async () => {
    server = createServer(handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'sky-login-'));
    for (const key of ['HOME', 'SKYPILOT_API_SERVER_ENDPOINT', 'SKYPILOT_API_SERVER_TOKEN', 'SKY_DEBUG']) saved[key] = process.env[key];
    process.env.HOME = home;
    delete process.env.SKYPILOT_API_SERVER_ENDPOINT;
    delete process.env.SKYPILOT_API_SERVER_TOKEN;
    delete process.env.SKY_DEBUG;
    seen.length = 0;
  });
  afterEach(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await rm(home, { recursive: true, force: true });
  });

  it('saves the endpoint only after whoami succeeds, keeps other keys, and chmods an existing file to 0600', async () => {
    await mkdir(join(home, '.sky'), { recursive: true });
    await writeFile(configFile(), '# mine\nactive_workspace: team-a\napi_server:\n  token: stale\n', { mode: 0o644 });
    const r = await sky('api', 'login', '-e', withCreds('alice', 'correct-horse'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `Logged in to SkyPilot API server at ${base()} as alice (u-1), role admin`);
    assert.ok(!r.stdout.includes('correct-horse') && !r.stderr.includes('correct-horse'));
    assert.deepEqual(seen.map((s) => s.url), ['/api/v1/users/me']);
    const text = await readFile(configFile(), 'utf8');
    assert.match(text, /# mine/);
    assert.match(text, /active_workspace: team-a/);
    assert.match(text, new RegExp(`endpoint: ${withCreds('alice', 'correct-horse').replace(/[.]/g, '\\.')}`));
    assert.doesNotMatch(text, /token/, 'a login without --token drops a stale token');
    assert.equal((await stat(configFile())).mode & 0o777, 0o600);
  });

  it('a new config file is 0600 and holds the token given with --token', async () => {
    const r = await sky('api', 'login', '-e', base(), '--token', TOKEN);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(configFile())).mode & 0o777, 0o600);
    assert.match(await readFile(configFile(), 'utf8'), new RegExp(`token: ${TOKEN}`));
    assert.equal(seen[0]?.authorization, `Bearer ${TOKEN}`);
  });

  it('a wrong password says so, names user and masked endpoint, and saves nothing', async () => {
    const r = await sky('api', 'login', '-e', withCreds('alice', 'wrong-password'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^sky: authentication failed for alice at ${base().replace(/[.]/g, '\\.')}\\n`));
    assert.ok(!r.stderr.includes('wrong-password'));
    await assert.rejects(stat(configFile()), { code: 'ENOENT' });
  });

  it('an expired token gives the daemon\'s word, a bad one "expired or revoked?", neither is saved or shown', async () => {
    const expired = await sky('api', 'login', '-e', base(), '--token', EXPIRED);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /the token was rejected by http:\/\/127\.0\.0\.1:\d+: the token has expired/);
    const bad = await sky('api', 'login', '-e', base(), '--token', 'sky_tok_bogus_123456');
    assert.match(bad.stderr, /the token was rejected by http:\/\/127\.0\.0\.1:\d+ \(expired or revoked\?\)/);
    for (const out of [expired.stderr, bad.stderr]) assert.ok(!out.includes(EXPIRED) && !out.includes('sky_tok_bogus_123456'));
    await assert.rejects(stat(configFile()), { code: 'ENOENT' });
  });

  it('an unreachable endpoint is the SERVER_UNREACHABLE message, is not started, and nothing is saved', async () => {
    const r = await sky('api', 'login', '-e', 'http://bob:pw-secret@127.0.0.1:9');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^sky: no API server at http:\/\/127\.0\.0\.1:9 \(connection refused\)/);
    assert.ok(!r.stderr.includes('pw-secret'));
    await assert.rejects(stat(configFile()), { code: 'ENOENT' });
  });

  it('429 passes on with a retry hint', async () => {
    const r = await sky('api', 'login', '-e', withCreds('mallory', 'x'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /too many failed logins\n {2}hint: Wait 30 s/);
  });

  it('without -e and without a terminal it is a usage error', async () => {
    const r = await sky('api', 'login');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give the endpoint with -e ENDPOINT/);
  });

  it('logout removes endpoint and token, keeps other keys, and says what it logged out of', async () => {
    await mkdir(join(home, '.sky'), { recursive: true });
    await writeFile(configFile(), `active_workspace: team-a\napi_server:\n  endpoint: ${withCreds('alice', 'correct-horse')}\n  token: ${TOKEN}\n`);
    const r = await sky('api', 'logout');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `Logged out of SkyPilot API server at ${base()}.`);
    const text = await readFile(configFile(), 'utf8');
    assert.equal(text.trim(), 'active_workspace: team-a');
    assert.equal((await sky('api', 'logout')).stdout.trim(), `Not logged in: no api_server.endpoint in ${configFile()}.`);
  });

  it('the token of $SKYPILOT_API_SERVER_TOKEN beats api_server.token, and is masked in every message', async () => {
    await mkdir(join(home, '.sky'), { recursive: true });
    await writeFile(configFile(), `api_server:\n  endpoint: ${base()}\n  token: sky_tok_from_config_0000\n`);
    const fromConfig = await resolveEndpoint({ env: {}, home });
    assert.equal(fromConfig.auth, 'token');
    assert.equal(fromConfig.authorization, 'Bearer sky_tok_from_config_0000');
    const fromEnv = await resolveEndpoint({ env: { SKYPILOT_API_SERVER_TOKEN: TOKEN }, home });
    assert.equal(fromEnv.authorization, `Bearer ${TOKEN}`);
    assert.equal(fromEnv.tokenSource, '$SKYPILOT_API_SERVER_TOKEN');
    process.env.SKYPILOT_API_SERVER_TOKEN = TOKEN;
    const listed = await sky('users', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(seen.at(-1)?.authorization, `Bearer ${TOKEN}`);
    const missing = await sky('users', 'token', 'revoke', 'missing');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no token missing \(auth Bearer \*\*\*\)/);
    process.env.SKYPILOT_API_SERVER_TOKEN = 'sky_tok_wrong_77777777';
    const rejected = await sky('users', 'list');
    assert.match(rejected.stderr, /bad credentials Bearer \*\*\*/);
    assert.ok(!rejected.stderr.includes('sky_tok_wrong_77777777'));
  });

  it('token create prints the secret once with a warning', async () => {
    process.env.SKYPILOT_API_SERVER_ENDPOINT = withCreds('alice', 'correct-horse');
    const r = await sky('users', 'token', 'create', '--name', 'ci');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'sky_tok_NEWSECRET\n');
    assert.match(r.stderr, /only time the token is shown/);
    const bad = await sky('users', 'token', 'revoke');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /needs the token ID/);
  });
});

describe('users CSV and tables', () => {
  it('parses username,password,role lines with an optional header, comments and quotes', () => {
    const cases: [string, unknown][] = [
      ['alice,password1,admin\nbob,password2,user\n', [{ name: 'alice', password: 'password1', role: 'admin' }, { name: 'bob', password: 'password2', role: 'user' }]],
      ['username,password,role\r\ncarol,password3,\n', [{ name: 'carol', password: 'password3' }]],
      ['# team\n\ndave,"pass,word""4",USER\n', [{ name: 'dave', password: 'pass,word"4', role: 'user' }]],
      ['erin,password5\n', [{ name: 'erin', password: 'password5' }]],
    ];
    for (const [text, want] of cases) assert.deepEqual(parseUsersCsv(text), want);
  });

  it('a bad line is an error naming it, never the password', () => {
    const cases: [string, number, RegExp][] = [
      ['alice,password1,admin\nbob\n', 2, /expected username,password,role but found 1 field$/],
      ['alice,tiny,user\n', 1, /the password of alice is shorter than 8 characters/],
      ['alice,password1,root\n', 1, /the role of alice must be admin or user, got 'root'/],
      ['-x,password1,user\n', 1, /the user name must be/],
      ['a,password1\na,password2\n', 2, /a is already on line 1/],
      ['a,"password1\n', 1, /no closing quote/],
      ['a,b,c,d\n', 1, /found 4 fields/],
    ];
    for (const [text, line, message] of cases) {
      assert.throws(() => parseUsersCsv(text), (err: unknown) => {
        assert.ok(err instanceof CsvError);
        assert.equal(err.line, line);
        assert.match(err.message, message);
        assert.ok(!err.message.includes('password1') && !err.message.includes('tiny'));
        return true;
      });
    }
  });

  it('formats the users and tokens tables', () => {
    const now = Date.UTC(2025, 0, 10);
    assert.deepEqual(userTable([{ id: 'u-1', name: 'alice', role: 'admin', createdAt: now - 2 * 86_400_000 }], now), [
      'NAME   ID   ROLE   CREATED',
      'alice  u-1  admin  2d ago',
    ]);
    const t = { userId: 'u-1', userName: 'alice', createdAt: now - 3_600_000 };
    assert.deepEqual(
      tokenTable(
        [
          { ...t, id: 't-1', name: 'ci', expiresAt: now + 3 * 86_400_000, lastUsedAt: now - 60_000 },
          { ...t, id: 't-2', name: 'old', expiresAt: now - 60_000 },
          { ...t, id: 't-3', name: 'gone', revokedAt: now },
        ],
        now,
      ),
      [
        'ID   NAME  USER   CREATED  EXPIRES  LAST USED  STATUS',
        't-1  ci    alice  1h ago   in 3d    1m ago     active',
        't-2  old   alice  1h ago   1m ago   -          expired',
        't-3  gone  alice  1h ago   never    -          revoked',
      ],
    );
  });
});
