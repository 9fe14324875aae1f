import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SkyClient } from '@sky/client';
import { SkyError, type PluginList } from '@sky/protocol';
import { connect, withServer } from '../context.js';
import { table } from '../format.js';
import { note, print, printJson } from '../output.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';

/** `sky plugins list|install|verify`. */
export async function run({ action, args, options }: Invocation): Promise<number> {
  switch (action.name) {
    case 'list':
      return withClient((client) => list(client, options));
    case 'install':
      return withClient((client) => install(client, args, options));
    case 'verify':
      return verify(args[0]!, options);
    default:
      throw new UsageError(`unknown action '${action.name}' for sky plugins`, 'sky plugins --help');
  }
}

async function withClient(body: (client: SkyClient) => Promise<number>): Promise<number> {
  const client = await connect();
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** The rows of `sky plugins list`: one per configured plugin, then the installed packages no driver names. */
export function pluginRows(list: PluginList): string[] {
  const rows = list.items.map((p) => [p.id, p.package, p.version ?? '-', p.apiVersion ?? '-', p.state === 'loaded' ? 'LOADED' : p.error === undefined ? 'DISABLED' : 'FAILED', p.error === undefined ? '' : `${p.error.code}: ${p.error.message}`]);
  const lines = rows.length === 0 ? ['No plugins are configured (drivers: in the daemon config).'] : table(['ID', 'PACKAGE', 'VERSION', 'API', 'STATUS', 'ERROR'], rows);
  if (list.apiVersion !== undefined) lines.push('', `Plugin API provided by the API server: ${list.apiVersion}`);
  const installed = list.installed ?? [];
  if (installed.length > 0) {
    lines.push('', 'Installed but not configured (add drivers.<id> to the daemon config and restart it):');
    for (const p of installed) lines.push(`  ${p.package}${p.version === undefined ? '' : `@${p.version}`}`);
  }
  const differences = list.replicaDifferences ?? [];
  if (differences.length > 0) {
    lines.push('', 'Warning: other replicas of this API server load other plugins (install the same plugins and versions on every replica):');
    for (const line of differences) lines.push(`  ${line}`);
  }
  return lines;
}

async function list(client: SkyClient, options: CliOptions): Promise<number> {
  const answer = await withServer(client, () => client.listPlugins());
  if (options.output === 'json') printJson(answer);
  else for (const line of pluginRows(answer)) print(line);
  return 0;
}

/** A tarball argument: a path, made absolute here (the daemon reads it on its own machine). */
function installArg(arg: string): string {
  const looksLikePath = arg.startsWith('.') || arg.startsWith('/') || ((arg.endsWith('.tgz') || arg.endsWith('.tar.gz')) && !arg.startsWith('@'));
  return looksLikePath ? resolve(arg) : arg;
}

async function install(client: SkyClient, args: readonly string[], options: CliOptions): Promise<number> {
  const packages = args.map(installArg);
  note(`Installing ${packages.join(' ')} into the API server's plugins directory (npm, scripts off)...`);
  const result = await client.installPlugins(packages);
  if (options.output === 'json') {
    printJson(result);
    return 0;
  }
  for (const i of result.installed) print(`Installed ${i.package}${i.version === undefined ? '' : `@${i.version}`} (${i.spec}) into ${result.dir}.`);
  print('Configure it under drivers: in the daemon config and restart the API server to load it; sky plugins list shows its status.');
  return 0;
}

/** Path of the plugin verifier the daemon package ships; the CLI runs it in a child process. */
function verifierPath(): string {
  const path = fileURLToPath(import.meta.resolve('@sky/daemon/verify-plugin'));
  if (!existsSync(path)) throw new SkyError('SERVER_START_FAILED', `the plugin verifier is not built: ${path} does not exist`, { hint: 'Build sky with: npm run build' });
  return path;
}

/**
 * Run the verifier in its own process: a plugin that crashes, hangs its import or exits the
 * process takes only the child down, and the CLI reports how it ended.
 */
async function verify(target: string, options: CliOptions): Promise<number> {
  const args = [verifierPath(), target.startsWith('.') || target.startsWith('/') ? resolve(target) : target];
  const config = typeof options.config === 'string' ? options.config : undefined;
  if (config !== undefined) {
    if (!existsSync(config)) throw new UsageError(`--config ${config}: no such file`, 'sky plugins verify --help');
    args.push('--config', resolve(config));
    note('Running the driver conformance suite: it provisions and terminates real clusters with this configuration (a cloud plugin creates real, billed resources).');
  }
  const env: NodeJS.ProcessEnv = { ...process.env, SKY_VERIFY_CWD: process.cwd() };
  // The suite reports to this terminal, never to a test runner this CLI may itself run under.
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(process.execPath, ['--test-reporter=spec', ...args], { stdio: 'inherit', env });
  const code = await new Promise<number>((done) => {
    child.once('error', () => done(1));
    child.once('exit', (status, signal) => {
      if (signal !== null) note(`sky: the plugin verifier was killed by ${signal} (the plugin crashed it?)`);
      done(status ?? 1);
    });
  });
  return code;
}
