import { ENDPOINT_ENV, login, logout, parseEndpoint } from '@sky/client';
import { TOKEN_ENV } from '@sky/protocol/wire';
import { note, print, rememberSecrets } from '../output.js';
import { readLine } from '../prompt.js';
import { UsageError, type CliOptions } from '../usage.js';

const HELP = 'sky api login --help';

/** `sky api login`: check the credentials against the daemon, then save them (never the other way round). */
export async function loginCommand(options: CliOptions): Promise<number> {
  let raw = options.endpoint;
  if (raw === undefined) {
    if (process.stdin.isTTY !== true) throw new UsageError('give the endpoint with -e ENDPOINT (stdin is not a terminal to ask on)', HELP);
    raw = (await readLine('Enter your SkyPilot API server endpoint: '))?.trim();
    if (raw === undefined || raw === '') throw new UsageError('no endpoint given', HELP);
  }
  // Mask what was given before anything can fail and print it.
  const token = options.token === undefined ? undefined : { value: options.token, source: '--token' };
  const parsed = await parseEndpoint(raw, 'the endpoint', token);
  rememberSecrets(parsed.secrets);
  const { endpoint, user, configFile } = await login({ endpoint: raw, token: options.token, ...(options.caFile === undefined ? {} : { caFile: options.caFile }) });
  print(`Logged in to SkyPilot API server at ${endpoint.url} as ${user.name} (${user.id}), role ${user.role}`);
  note(`Saved to ${configFile}.`);
  if (process.env[ENDPOINT_ENV]?.trim()) note(`Note: $${ENDPOINT_ENV} is set and overrides the saved endpoint.`);
  if (process.env[TOKEN_ENV]?.trim()) note(`Note: $${TOKEN_ENV} is set and overrides the saved credentials.`);
  return 0;
}

export async function logoutCommand(): Promise<number> {
  const { endpoint, configFile, token } = await logout();
  if (endpoint === undefined && !token) {
    print(`Not logged in: no api_server.endpoint in ${configFile}.`);
    return 0;
  }
  print(endpoint === undefined ? `Removed the saved token from ${configFile}.` : `Logged out of SkyPilot API server at ${endpoint}.`);
  return 0;
}
