#!/usr/bin/env node
/**
 * `sky plugins verify PATH|NAME [--config FILE]`, run by the CLI in a child process of its own
 * (a plugin that crashes or exits takes only this process down): static checks of the package
 * (manifest, dependencies, entry, brand, kind, apiVersion against this sky's plugin API, config
 * schema), then, with --config, the driver conformance suite of @sky/plugin-api/testing against
 * that configuration. Exit code 0 when every check and test passed.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import { PLUGIN_API_VERSION, type Driver, type DriverPlugin, type PluginLogger } from '@sky/plugin-api';
import { runDriverConformance } from '@sky/plugin-api/testing';
import { SkyError, toSkyError } from '@sky/protocol';
import { expandHome } from '../config/load.js';
import { settleWithin } from './deadline.js';
import { npmGlobalRoot } from './dirs.js';
import { findPackageDir, resolveEntry } from './resolve.js';
import { describeThrown } from './thrown.js';
import { checkApiVersion, checkDriverPlugin, pickExport, validateConfig } from './validate.js';

const IMPORT_TIMEOUT_MS = 30_000;
const LOCAL_DEPENDENCY = /^(file|link|workspace|portal):/;

let failures = 0;
const ok = (line: string): void => void process.stdout.write(`✓ ${line}\n`);
const warn = (line: string): void => void process.stdout.write(`! ${line}\n`);
const fail = (line: string): void => {
  failures += 1;
  process.stdout.write(`✗ ${line}\n`);
};

function errorLine(err: unknown): string {
  const sky = toSkyError(err);
  if (sky === undefined) return describeThrown(err);
  return `${sky.code}: ${sky.message}${sky.hint === undefined ? '' : `\n    hint: ${sky.hint}`}`;
}

/** The plugin's package directory: a path as given, or a name looked up where the daemon looks (plugins directory, node_modules up from here, npm's global packages). */
async function packageDir(target: string): Promise<string> {
  if (isAbsolute(target)) return target;
  const cwd = process.env['SKY_VERIFY_CWD'] ?? process.cwd();
  return findPackageDir('verify', target, {
    pluginDirs: [join(expandHome('~/.sky/plugins'), 'node_modules')],
    searchFrom: [cwd],
    lastDirs: [npmGlobalRoot(process.env, process.execPath)],
  });
}

type Manifest = Record<string, unknown>;

function staticManifestChecks(manifest: Manifest, dir: string): void {
  const name = typeof manifest['name'] === 'string' ? manifest['name'] : undefined;
  if (name === undefined) fail('package.json has no "name"');
  else if (/^(@[^/]+\/)?sky-driver-[a-z0-9][a-z0-9._-]*$/.test(name)) ok(`name ${name} follows sky-driver-<id> (operators configure it as drivers.${name.replace(/^(@[^/]+\/)?sky-driver-/, '')})`);
  else warn(`name ${name} does not follow sky-driver-<id>: operators must name it in drivers.<id>.package`);
  const version = manifest['version'];
  if (typeof version !== 'string' || semver.valid(version) === null) fail('package.json has no valid semver "version"');
  if (manifest['private'] === true) warn('package.json says "private": true: npm refuses to publish it (installing its tarball still works)');
  if (manifest['type'] !== 'module') warn('package.json has no "type": "module": the daemon imports the entry as an ES module');
  if (manifest['types'] === undefined && !JSON.stringify(manifest['exports'] ?? {}).includes('"types"')) warn('no "types" in package.json: TypeScript users of the package get no declarations');

  const deps = (manifest['dependencies'] ?? {}) as Record<string, unknown>;
  const dev = (manifest['devDependencies'] ?? {}) as Record<string, unknown>;
  const peer = (manifest['peerDependencies'] ?? {}) as Record<string, unknown>;
  for (const [dep, spec] of Object.entries(deps)) {
    if (typeof spec === 'string' && LOCAL_DEPENDENCY.test(spec)) fail(`dependency ${dep} is "${spec}": a packed tarball with it installs nowhere else; depend on a published version (e.g. "^${PLUGIN_API_VERSION}")`);
  }
  const api = deps['@sky/plugin-api'] ?? peer['@sky/plugin-api'];
  if (api === undefined) {
    if (dev['@sky/plugin-api'] !== undefined) fail('@sky/plugin-api is only a devDependency: installed elsewhere, the plugin cannot import it; move it to "dependencies"');
    else warn('no dependency on @sky/plugin-api (fine if the plugin imports nothing from it)');
  } else if (typeof api === 'string' && !LOCAL_DEPENDENCY.test(api)) {
    const range = semver.validRange(api);
    if (range === null) warn(`@sky/plugin-api "${api}" is not a semver range`);
    else if (semver.satisfies(PLUGIN_API_VERSION, range)) ok(`depends on @sky/plugin-api ${api}, which includes this sky's plugin API ${PLUGIN_API_VERSION}`);
    else warn(`depends on @sky/plugin-api ${api}, which does not include this sky's plugin API ${PLUGIN_API_VERSION}`);
  }
  const files = manifest['files'];
  if (Array.isArray(files) && !files.some((f) => typeof f === 'string' && (f === 'dist' || f.startsWith('dist') || f === '.'))) warn(`"files" (${files.join(', ')}) may leave the built entry out of the tarball`);
  void dir;
}

interface VerifyFile {
  config: Record<string, unknown>;
  numNodes?: number;
  stops?: boolean;
  tracksCapacity?: boolean;
  infra?: string;
}

async function readVerifyFile(path: string): Promise<VerifyFile> {
  const text = await readFile(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SkyError('CONFIG_INVALID', `--config ${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${describeThrown(err)}`);
  }
  const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const top = record(parsed ?? {});
  if (!('config' in top)) return { config: top };
  const c = record(top['conformance']);
  const out: VerifyFile = { config: record(top['config']) };
  if (typeof c['num_nodes'] === 'number') out.numNodes = c['num_nodes'];
  if (typeof c['stops'] === 'boolean') out.stops = c['stops'];
  if (typeof c['tracks_capacity'] === 'boolean') out.tracksCapacity = c['tracks_capacity'];
  if (typeof c['infra'] === 'string') out.infra = c['infra'];
  return out;
}

const quietLogger: PluginLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (obj, msg) => void process.stderr.write(`plugin warn: ${typeof obj === 'string' ? obj : (msg ?? JSON.stringify(obj))}\n`),
  error: (obj, msg) => void process.stderr.write(`plugin error: ${typeof obj === 'string' ? obj : (msg ?? JSON.stringify(obj))}\n`),
};

function runConformance(plugin: DriverPlugin<unknown>, config: unknown, file: VerifyFile): void {
  const open = async (dataDir: string): Promise<Driver> => plugin.init({ id: 'verify', config, logger: quietLogger, dataDir, signal: new AbortController().signal, multiUser: false });
  runDriverConformance(plugin.name, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sky-verify-'));
    const driver = await open(dataDir);
    return {
      driver,
      ...(file.numNodes === undefined ? {} : { numNodes: file.numNodes }),
      ...(file.stops === undefined ? {} : { stops: file.stops }),
      ...(file.tracksCapacity === undefined ? {} : { tracksCapacity: file.tracksCapacity }),
      ...(file.infra === undefined ? {} : { infra: file.infra }),
      reopen: () => open(dataDir),
      cleanup: () => rm(dataDir, { recursive: true, force: true }),
    };
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const target = argv[0];
  const configAt = argv.indexOf('--config');
  const configFile = configAt === -1 ? undefined : argv[configAt + 1];
  if (target === undefined || target.startsWith('-') || (configAt !== -1 && configFile === undefined)) {
    process.stderr.write('usage: sky plugins verify PATH|NAME [--config FILE]\n');
    return 2;
  }
  const dir = resolve(await packageDir(target));
  process.stdout.write(`Verifying the plugin at ${dir} against plugin API ${PLUGIN_API_VERSION}\n`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Manifest;
  } catch (err) {
    fail(`${join(dir, 'package.json')} cannot be read: ${describeThrown(err)}`);
    return 1;
  }
  staticManifestChecks(manifest, dir);
  const name = typeof manifest['name'] === 'string' ? manifest['name'] : target;

  let plugin: DriverPlugin<unknown>;
  try {
    const resolved = await resolveEntry('verify', name, dir);
    ok(`entry ${resolved.entry}`);
    const imported = await settleWithin(() => import(pathToFileURL(resolved.entry).href) as Promise<Record<string, unknown>>, { ms: IMPORT_TIMEOUT_MS });
    if (imported.kind === 'timeout') throw new SkyError('PLUGIN_LOAD_FAILED', `importing ${resolved.entry} did not finish within ${IMPORT_TIMEOUT_MS / 1000}s`);
    if (imported.kind !== 'value') throw new SkyError('PLUGIN_LOAD_FAILED', `importing ${resolved.entry} failed: ${imported.kind === 'error' ? describeThrown(imported.error) : 'aborted'} (are its dependencies installed? run npm install in ${dir})`);
    plugin = checkDriverPlugin('verify', name, resolved.entry, pickExport(imported.value));
    ok(`exports a branded driver plugin (name ${plugin.name}, apiVersion ${plugin.apiVersion})`);
    if (plugin.name !== name) warn(`the plugin's name (${plugin.name}) differs from its package name (${name}); messages will show both`);
    checkApiVersion('verify', name, plugin.apiVersion, PLUGIN_API_VERSION);
    ok(`apiVersion ${plugin.apiVersion} includes this sky's plugin API ${PLUGIN_API_VERSION}`);
    if (plugin.configSchema === undefined) warn('no configSchema: the daemon passes any config block through unchecked, so typos reach init');
    else ok(`configSchema is a Standard Schema (${plugin.configSchema['~standard'].vendor})`);
  } catch (err) {
    fail(errorLine(err));
    return 1;
  }
  if (failures > 0) return 1;
  if (configFile === undefined) {
    process.stdout.write('Static checks passed. Run again with --config FILE to run the driver conformance suite against a configuration.\n');
    return 0;
  }

  let file: VerifyFile;
  let config: unknown;
  try {
    file = await readVerifyFile(configFile);
    config = await validateConfig('verify', name, plugin.configSchema, file.config);
    ok(`--config ${configFile} passes the plugin's config schema`);
  } catch (err) {
    fail(errorLine(err));
    return 1;
  }
  process.stdout.write('Running the driver conformance suite (it provisions and terminates real clusters)...\n');
  runConformance(plugin, config, file);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // With the suite registered, node:test runs it and sets the exit code; otherwise end here.
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`✗ ${errorLine(err)}\n`);
    process.exit(1);
  },
);
