import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Identity, WhoAmI } from '@sky/protocol';
import { SkyError } from '@sky/protocol/wire';
import { SkyClient } from './client.js';
import { maskSecrets, parseEndpoint, resolveCa, type Endpoint } from './endpoint.js';
import { loadIdentity } from './identity.js';
import { skyPaths } from './paths.js';

export interface LoginOptions {
  /** The endpoint URL as given, credentials (user:password@) included. */
  endpoint: string;
  /** A bearer token, sent instead of the URL's credentials. */
  token?: string;
  home?: string;
  identity?: Identity;
  connectTimeoutMs?: number;
  /** A CA bundle for an https:// endpoint, checked with the login and saved as api_server.ca_file. */
  caFile?: string;
}

export interface LoginResult {
  endpoint: Endpoint;
  user: WhoAmI;
  configFile: string;
}

export interface LogoutResult {
  configFile: string;
  /** The masked URL logged out of; undefined when no endpoint was saved. */
  endpoint: string | undefined;
  /** Whether a token was removed too. */
  token: boolean;
}

/** Read the config as a YAML document (an empty one when the file does not exist). */
async function readConfig(file: string) {
  const { parseDocument, isMap } = await import('yaml');
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SkyError('CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`, { hint: 'Fix the file permissions or remove the file.' });
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || (doc.contents !== null && !isMap(doc.contents))) {
    throw new SkyError('CONFIG_INVALID', `${file} is not a YAML mapping, so it cannot be updated`, { hint: 'Fix the file (see sky.config.example.yaml) and run the command again.' });
  }
  const section = doc.get('api_server', true);
  if (section !== undefined && section !== null && !isMap(section)) {
    throw new SkyError('CONFIG_INVALID', `${file}: api_server must be a mapping`, { hint: 'Write it as "api_server:" followed by an indented "endpoint: http://host:port".' });
  }
  return doc;
}

/** Write the config readable by its owner only: it holds credentials. The mode is set even on an existing file. */
async function writeConfig(file: string, dir: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  await chmod(file, 0o600);
}

/** The endpoint's credentials as the daemon's 401 should be explained. */
function rejected(endpoint: Endpoint, err: SkyError): SkyError {
  if (endpoint.auth === 'token') {
    const said = maskSecrets(err.message, endpoint);
    const message = /expired/i.test(said)
      ? `the token was rejected by ${endpoint.url}: ${said}`
      : `the token was rejected by ${endpoint.url} (expired or revoked?)`;
    return new SkyError('UNAUTHENTICATED', message, { hint: 'Create a new one with: sky users token create (logged in another way), then sky api login --token …' });
  }
  if (endpoint.auth === 'basic') {
    return new SkyError('UNAUTHENTICATED', `authentication failed for ${endpoint.basicUser ?? ''} at ${endpoint.url}`, {
      hint: 'Check the user name and password in the URL (http://USER:PASSWORD@host:port).',
    });
  }
  return new SkyError('UNAUTHENTICATED', `the API server at ${endpoint.url} requires credentials`, {
    hint: 'Log in with: sky api login -e http://USER:PASSWORD@host:port, or --token TOKEN.',
  });
}

/**
 * Check the credentials against the daemon (GET whoami) and only then save the endpoint (and
 * token) to ~/.sky/config.yaml, mode 0600, keeping its other keys. Nothing is saved on error;
 * a remote endpoint is never started.
 */
export async function login(options: LoginOptions): Promise<LoginResult> {
  const token = options.token === undefined ? undefined : { value: options.token, source: '--token' };
  const ca = options.caFile === undefined ? await resolveCa({ home: options.home }) : { file: resolve(options.caFile), source: '--ca-file' };
  const endpoint = await parseEndpoint(options.endpoint, 'the endpoint', token, ca);
  const identity = options.identity ?? (await loadIdentity({ home: options.home }));
  const client = new SkyClient({ endpoint, identity, connectTimeoutMs: options.connectTimeoutMs, home: options.home });
  let user: WhoAmI;
  try {
    user = await client.whoami();
  } catch (err) {
    if (err instanceof SkyError && err.code === 'UNAUTHENTICATED') throw rejected(endpoint, err);
    throw err;
  } finally {
    client.close();
  }
  const paths = skyPaths(options.home);
  const doc = await readConfig(paths.configFile);
  doc.setIn(['api_server', 'endpoint'], options.endpoint.trim());
  if (options.token !== undefined) doc.setIn(['api_server', 'token'], options.token.trim());
  else doc.deleteIn(['api_server', 'token']);
  if (options.caFile !== undefined) doc.setIn(['api_server', 'ca_file'], resolve(options.caFile));
  await writeConfig(paths.configFile, paths.skyDir, doc.toString());
  return { endpoint, user, configFile: paths.configFile };
}

/** Remove api_server.endpoint and api_server.token from ~/.sky/config.yaml, keeping every other key. */
export async function logout(options: { home?: string } = {}): Promise<LogoutResult> {
  const paths = skyPaths(options.home);
  const doc = await readConfig(paths.configFile);
  const saved = doc.getIn(['api_server', 'endpoint']);
  const hadToken = doc.hasIn(['api_server', 'token']);
  let endpoint: string | undefined;
  if (typeof saved === 'string') {
    try {
      endpoint = (await parseEndpoint(saved, 'api_server.endpoint')).url;
    } catch {
      endpoint = maskSecrets(saved, undefined);
    }
  }
  if (saved === undefined && !hadToken) return { configFile: paths.configFile, endpoint: undefined, token: false };
  doc.deleteIn(['api_server', 'endpoint']);
  doc.deleteIn(['api_server', 'token']);
  const { isMap } = await import('yaml');
  const section = doc.get('api_server', true);
  if (isMap(section) && section.items.length === 0) doc.delete('api_server');
  const text = doc.contents === null || (isMap(doc.contents) && doc.contents.items.length === 0) ? '' : doc.toString();
  await writeConfig(paths.configFile, paths.skyDir, text);
  return { configFile: paths.configFile, endpoint, token: hadToken };
}
