import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_ENDPOINT, DEFAULT_PORT, SkyError, TOKEN_ENV } from '@sky/protocol/wire';
import { skyPaths } from './paths.js';

export const ENDPOINT_ENV = 'SKYPILOT_API_SERVER_ENDPOINT';
export const CA_ENV = 'SKYPILOT_API_SERVER_CA';

/** A CA bundle to verify the API server's certificate with, and where it was named. */
export interface CaSetting {
  file: string;
  source: string;
}

/** Where the API server is, as resolved from the environment, ~/.sky/config.yaml or the default. */
export interface Endpoint {
  /** The URL without credentials and without a trailing slash: the only form ever printed. */
  readonly url: string;
  readonly protocol: 'http:' | 'https:';
  /** Host name or address, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** Path prefix in front of every API path ('' when the server sits at the root). */
  readonly basePath: string;
  /** `Bearer …` when a token is in use, else `Basic …` when the URL carried credentials. */
  readonly authorization: string | undefined;
  /** Which credentials go with each request: none, the URL's user and password, or a bearer token. */
  readonly auth: 'none' | 'basic' | 'token';
  /** The user name of the URL's credentials (even when a token is used instead). */
  readonly basicUser: string | undefined;
  /** Where the token came from ($SKYPILOT_API_SERVER_TOKEN, a config line, --token), for messages. */
  readonly tokenSource: string | undefined;
  /** Loopback endpoints (127.0.0.0/8, localhost, ::1): on this machine. */
  readonly local: boolean;
  /**
   * Only the default local endpoint (http://127.0.0.1:46580 or http://localhost:46580) is started
   * when nothing answers there; any other URL that does not answer (another port, another
   * loopback address, a tunnel) is an error, never a fresh local daemon.
   */
  readonly autoStart: boolean;
  /** The CA bundle that verifies an https:// endpoint's certificate (system CAs when absent). */
  readonly ca?: CaSetting;
  /** Where the endpoint came from, for messages. */
  readonly source: string;
  /** Credential fragments to remove from any text before it is shown. */
  readonly secrets: readonly string[];
  /** `active_workspace` of ~/.sky/config.yaml: the workspace operations run in unless --workspace says otherwise. */
  readonly activeWorkspace?: string;
}

export function isLocalHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** Whether a parsed URL is the default local endpoint, the only one ever started automatically. */
function isDefaultLocal(url: URL): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port === '' ? 80 : Number(url.port);
  return url.protocol === 'http:' && (host === '127.0.0.1' || host === 'localhost') && port === DEFAULT_PORT && url.pathname.replace(/\/+$/, '') === '';
}

/** A bearer token and where it came from. */
export interface TokenSetting {
  value: string;
  source: string;
}

/**
 * Parse an endpoint URL; `source` names where it came from so a bad value can be found and fixed.
 * A token, when given, is sent instead of the URL's credentials; like them it is a secret, masked everywhere.
 */
export async function parseEndpoint(raw: string, source: string, token?: TokenSetting, ca?: CaSetting): Promise<Endpoint> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new SkyError('CONFIG_INVALID', `${source}: "${maskUrl(raw)}" is not a URL`, {
      hint: 'Use a URL like http://127.0.0.1:46580 (credentials, if any, go before the host: user:password@host).',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SkyError('CONFIG_INVALID', `${source}: the API server URL must start with http:// or https://, got ${url.protocol}//`, {
      hint: 'Use a URL like http://127.0.0.1:46580.',
    });
  }
  const secrets: string[] = [];
  let authorization: string | undefined;
  let basicUser: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    basicUser = user;
    const password = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    secrets.push(`${url.username}:${url.password}@`, `${user}:${password}@`);
    if (password.length >= 4) secrets.push(url.password, password);
    url.username = '';
    url.password = '';
  }
  let auth: Endpoint['auth'] = authorization === undefined ? 'none' : 'basic';
  const bearer = token?.value.trim() ?? '';
  if (bearer !== '') {
    if (!/^[\x21-\x7e]+$/.test(bearer)) {
      throw new SkyError('CONFIG_INVALID', `${token?.source ?? 'the token'}: a token is printable ASCII without spaces`, {
        hint: 'Copy the token exactly as sky users token create printed it.',
      });
    }
    authorization = `Bearer ${bearer}`;
    auth = 'token';
    secrets.push(bearer);
  }
  const autoStart = isDefaultLocal(url);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const basePath = url.pathname.replace(/\/+$/, '');
  return {
    url: `${url.protocol}//${url.host}${basePath}`,
    protocol: url.protocol,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    basePath,
    authorization,
    auth,
    basicUser,
    tokenSource: auth === 'token' ? token?.source : undefined,
    local: isLocalHost(url.hostname),
    autoStart,
    ...(ca === undefined ? {} : { ca }),
    source,
    secrets: [...new Set(secrets)].filter((s) => s.length > 0),
  };
}

/** Strip credentials from a URL-ish string that could not even be parsed. */
function maskUrl(raw: string): string {
  return raw.replace(/\/\/[^/@\s]*@/, '//***@');
}

/** Remove the endpoint's credentials from a text (an error message, a log line). */
export function maskSecrets(text: string, endpoint: Pick<Endpoint, 'secrets'> | undefined): string {
  let out = text;
  for (const secret of endpoint?.secrets ?? []) {
    out = out.split(secret).join(secret.endsWith('@') ? '' : '***');
  }
  return maskUrl(out);
}

interface ConfigValue {
  value: string;
  where: string;
}

interface ApiServerConfig {
  endpoint?: ConfigValue;
  token?: ConfigValue;
  caFile?: ConfigValue;
  activeWorkspace?: ConfigValue;
}

async function apiServerFromConfig(file: string): Promise<ApiServerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SkyError('CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`, {
      hint: 'Fix the file permissions or remove the file.',
    });
  }
  const { parseDocument, LineCounter, isMap, isNode, isScalar } = await import('yaml');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    const { line, col } = lines.linePos(first.pos[0]);
    throw new SkyError('CONFIG_INVALID', `${file} line ${line}, column ${col}: ${first.message}`, {
      hint: 'Fix the YAML syntax at that line.',
      details: { file, line },
    });
  }
  const root = doc.contents;
  if (root === null) return {};
  const lineOf = (node: unknown): number => lines.linePos(isNode(node) ? (node.range?.[0] ?? 0) : 0).line;
  if (!isMap(root)) {
    throw new SkyError('CONFIG_INVALID', `${file} line ${lineOf(root)}: the file must be a mapping of keys (e.g. "api_server:")`, {
      hint: 'See sky.config.example.yaml for the layout.',
    });
  }
  const out: ApiServerConfig = {};
  const ws = doc.get('active_workspace', true);
  if (ws !== undefined && !(isScalar(ws) && ws.value === null)) {
    const where = `${file} line ${lineOf(ws)} (active_workspace)`;
    if (!isScalar(ws) || typeof ws.value !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(ws.value)) {
      throw new SkyError('CONFIG_INVALID', `${where}: must be a workspace name (lowercase letters, digits, "-" or "_")`, { hint: 'Write it as active_workspace: NAME (see sky workspace list).' });
    }
    out.activeWorkspace = { value: ws.value, where };
  }
  const section = doc.get('api_server', true);
  if (section === undefined) return out;
  if (!isMap(section)) {
    throw new SkyError('CONFIG_INVALID', `${file} line ${lineOf(section)}: api_server must be a mapping`, {
      hint: 'Write it as "api_server:" followed by an indented "endpoint: http://host:port".',
    });
  }
  const stringAt = (key: string, what: string, example: string): ConfigValue | undefined => {
    const node = doc.getIn(['api_server', key], true);
    if (node === undefined || (isScalar(node) && node.value === null)) return undefined;
    const where = `${file} line ${lineOf(node)} (api_server.${key})`;
    if (!isScalar(node) || typeof node.value !== 'string') {
      const got = isScalar(node) ? typeof node.value : 'a nested block';
      throw new SkyError('CONFIG_INVALID', `${where}: must be ${what}, got ${got}`, { hint: `Write it as ${example}` });
    }
    return { value: node.value, where };
  };
  const endpoint = stringAt('endpoint', 'a URL string', 'endpoint: http://host:port');
  if (endpoint !== undefined) out.endpoint = endpoint;
  const token = stringAt('token', 'a string', 'token: <the token sky users token create printed>');
  if (token !== undefined) out.token = token;
  const caFile = stringAt('ca_file', 'a file path', 'ca_file: ~/.sky/team-ca.pem');
  if (caFile !== undefined) out.caFile = caFile;
  return out;
}

export interface ResolveEndpointOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/** A path from the environment (relative: to the working directory) or the config file (relative: to ~/.sky); `~/` is the home directory. */
function configPath(value: string, home: string, base: string): string {
  const trimmed = value.trim();
  const expanded = trimmed === '~' ? home : trimmed.startsWith('~/') ? join(home, trimmed.slice(2)) : trimmed;
  return isAbsolute(expanded) ? expanded : resolve(base, expanded);
}

/** The CA bundle: $SKYPILOT_API_SERVER_CA, then api_server.ca_file of ~/.sky/config.yaml; undefined means the system CAs. */
export async function resolveCa(options: ResolveEndpointOptions = {}): Promise<CaSetting | undefined> {
  const env = options.env ?? process.env;
  const paths = skyPaths(options.home);
  return caFrom(env, paths.home, paths.skyDir, await apiServerFromConfig(paths.configFile));
}

function caFrom(env: NodeJS.ProcessEnv, home: string, skyDir: string, config: ApiServerConfig): CaSetting | undefined {
  const fromEnv = env[CA_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { file: configPath(fromEnv, home, process.cwd()), source: `$${CA_ENV}` };
  if (config.caFile !== undefined && config.caFile.value.trim() !== '') return { file: configPath(config.caFile.value, home, skyDir), source: config.caFile.where };
  return undefined;
}

/**
 * Endpoint precedence: $SKYPILOT_API_SERVER_ENDPOINT, then api_server.endpoint in ~/.sky/config.yaml,
 * then the default. Token precedence: $SKYPILOT_API_SERVER_TOKEN, then api_server.token. CA bundle:
 * $SKYPILOT_API_SERVER_CA, then api_server.ca_file.
 */
export async function resolveEndpoint(options: ResolveEndpointOptions = {}): Promise<Endpoint> {
  const env = options.env ?? process.env;
  const fromEnv = env[ENDPOINT_ENV];
  const envSet = fromEnv !== undefined && fromEnv.trim() !== '';
  // A bad $SKYPILOT_API_SERVER_ENDPOINT is reported as such, before the config file is read for a token.
  if (envSet) await parseEndpoint(fromEnv, `$${ENDPOINT_ENV}`);
  const paths = skyPaths(options.home);
  const config = await apiServerFromConfig(paths.configFile);
  const tokenEnv = env[TOKEN_ENV];
  const token: TokenSetting | undefined =
    tokenEnv !== undefined && tokenEnv.trim() !== ''
      ? { value: tokenEnv, source: `$${TOKEN_ENV}` }
      : config.token !== undefined && config.token.value.trim() !== ''
        ? { value: config.token.value, source: config.token.where }
        : undefined;
  const ca = caFrom(env, paths.home, paths.skyDir, config);
  const endpoint = envSet
    ? await parseEndpoint(fromEnv, `$${ENDPOINT_ENV}`, token, ca)
    : config.endpoint !== undefined
      ? await parseEndpoint(config.endpoint.value, config.endpoint.where, token, ca)
      : await parseEndpoint(DEFAULT_ENDPOINT, 'the default endpoint', token, ca);
  return config.activeWorkspace === undefined ? endpoint : { ...endpoint, activeWorkspace: config.activeWorkspace.value };
}
