import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import { SkyError } from '@sky/protocol';

/**
 * One thing `sky plugins install` may install: an npm package by name (optionally with a version
 * or range), or a packed tarball on the daemon's machine. Nothing else reaches npm: no git or
 * http URLs, no `file:` directories, no aliases, nothing that starts with `-` (an npm option).
 */
export type InstallSpec = { readonly kind: 'registry'; readonly name: string; readonly spec: string } | { readonly kind: 'tarball'; readonly path: string; readonly spec: string };

/** npm's rules for a package name: lower case, URL-safe, at most 214 characters, optionally scoped. */
const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
/** A version, a range or a dist-tag after `name@`: semver characters only (no spaces, slashes or colons). */
const VERSION_PART = /^[A-Za-z0-9.^~<>=*+_-]{1,64}$/;
const TARBALL = /\.(?:tgz|tar\.gz)$/;

function invalid(spec: string, why: string): SkyError {
  return new SkyError('VALIDATION_FAILED', `packages: ${JSON.stringify(spec.slice(0, 200))} ${why}`, {
    hint: 'Give an npm package name (sky-driver-x, @acme/sky-driver-x, sky-driver-x@1.2.0) or the absolute path of a tarball made by npm pack (/srv/sky-driver-x-1.2.0.tgz) on the daemon\'s machine.',
    details: { field: 'packages', spec: spec.slice(0, 200) },
  });
}

/** Check one spec's shape (no file system access): a package name with an optional version, or an absolute tarball path. */
export function parseInstallSpec(spec: string): InstallSpec {
  if (spec.length === 0 || spec.length > 1024) return failWith(invalid(spec, 'is empty or longer than 1024 characters'));
  if (/[\0-\x1f\x7f]/.test(spec)) return failWith(invalid(spec, 'contains control characters'));
  if (spec.startsWith('-')) return failWith(invalid(spec, 'starts with "-", which npm would read as an option'));
  if (spec.startsWith('/')) {
    if (!isAbsolute(spec) || normalize(spec) !== spec) return failWith(invalid(spec, 'is not a normalized absolute path (no "..", "." or repeated "/")'));
    if (!TARBALL.test(spec)) return failWith(invalid(spec, 'is a path but not a packed tarball (.tgz or .tar.gz, as npm pack makes)'));
    return { kind: 'tarball', path: spec, spec };
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) return failWith(invalid(spec, 'is a URL or a protocol spec (git:, http:, file:, npm:, …); only registry packages and tarball paths are installed'));
  const at = spec.indexOf('@', 1);
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? undefined : spec.slice(at + 1);
  if (name.length > 214 || !PACKAGE_NAME.test(name)) {
    return failWith(invalid(spec, spec.includes('/') && !spec.startsWith('@') ? 'is neither a package name nor an absolute tarball path' : 'is not a valid npm package name'));
  }
  if (version !== undefined && !VERSION_PART.test(version)) return failWith(invalid(spec, 'has a version that is not a semver version, range or dist-tag'));
  return { kind: 'registry', name, spec };
}

function failWith(error: SkyError): never {
  throw error;
}

/** Check a tarball the daemon's own account can read: a regular file (not a link, a device or a directory). */
async function checkTarball(path: string): Promise<void> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    throw invalid(path, "does not exist on the daemon's machine (the path is read there, not on the client)");
  }
  if (!info.isFile()) throw invalid(path, 'is not a regular file (a directory, a symbolic link or a device)');
  try {
    await access(path, constants.R_OK);
  } catch {
    throw invalid(path, "is not readable by the daemon's account");
  }
}

/** Create the plugins directory as an npm prefix of its own: `<dir>/package.json`, private to the daemon's account. */
export async function ensurePluginsDir(dir: string): Promise<void> {
  await mkdir(join(dir, 'node_modules'), { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const manifest = join(dir, 'package.json');
  try {
    await access(manifest);
  } catch {
    const body = { name: 'sky-plugins', private: true, description: 'Plugins of this sky daemon (sky plugins install)', dependencies: {} };
    await writeFile(manifest, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  }
}

/** The npm command line: npm's own CLI run by this Node.js (its bin directory), else `npm` from PATH. */
export async function npmCommand(execPath: string): Promise<{ file: string; prefixArgs: string[] }> {
  const cli = join(dirname(dirname(execPath)), 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  try {
    await access(cli, constants.R_OK);
    return { file: execPath, prefixArgs: [cli] };
  } catch {
    return { file: 'npm', prefixArgs: [] };
  }
}

/** The arguments of the install: always --ignore-scripts (no package code runs at install time), into the plugins directory only. */
export function npmInstallArgs(dir: string, specs: readonly InstallSpec[]): string[] {
  return ['install', '--prefix', dir, '--ignore-scripts', '--no-audit', '--no-fund', '--save', '--save-exact', '--', ...specs.map((s) => s.spec)];
}

export interface InstallOptions {
  readonly dir: string;
  readonly execPath: string;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface Installed {
  readonly spec: string;
  readonly package: string;
  readonly version?: string;
}

const MAX_LOG = 64 * 1024;

function tail(text: string): string {
  return text.length <= MAX_LOG ? text : text.slice(-MAX_LOG);
}

/** Which package a spec became: a registry name is itself; a tarball is read for its package.json name (npm recorded it in the manifest). */
async function installedAs(dir: string, spec: InstallSpec, before: Record<string, string>): Promise<Installed> {
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const deps = manifest.dependencies ?? {};
  let name: string | undefined;
  if (spec.kind === 'registry') name = spec.name;
  else {
    // npm records a tarball as `file:<path relative to the prefix>`.
    const names = Object.keys(deps).filter((n) => {
      const value = deps[n] ?? '';
      return value.startsWith('file:') && resolve(dir, value.slice('file:'.length)) === spec.path;
    });
    name = names.find((n) => before[n] !== deps[n]) ?? names[0];
  }
  if (name === undefined) return { spec: spec.spec, package: '(unknown)' };
  try {
    const pkg = JSON.parse(await readFile(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? { spec: spec.spec, package: name, version: pkg.version } : { spec: spec.spec, package: name };
  } catch {
    return { spec: spec.spec, package: name };
  }
}

/**
 * Install packages into the plugins directory with npm, as the daemon's account, with scripts
 * off. Specs are validated first (shape, then each tarball on disk); npm gets them after `--`.
 */
export async function installPlugins(rawSpecs: readonly string[], options: InstallOptions): Promise<{ installed: Installed[]; log: string }> {
  const specs = rawSpecs.map(parseInstallSpec);
  for (const spec of specs) if (spec.kind === 'tarball') await checkTarball(spec.path);
  await ensurePluginsDir(options.dir);
  const before = (JSON.parse(await readFile(join(options.dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
  const npm = await npmCommand(options.execPath);
  const args = [...npm.prefixArgs, ...npmInstallArgs(options.dir, specs)];
  const env: NodeJS.ProcessEnv = { ...options.env, npm_config_ignore_scripts: 'true', npm_config_update_notifier: 'false' };
  const { code, output } = await new Promise<{ code: number | string | null; output: string }>((resolve) => {
    execFile(npm.file, args, { cwd: options.dir, env, timeout: options.timeoutMs, maxBuffer: 16 * 1024 * 1024, signal: options.signal }, (error, stdout, stderr) => {
      const text = `${stdout}${stderr}`;
      if (error === null) resolve({ code: 0, output: text });
      else resolve({ code: (error as NodeJS.ErrnoException & { code?: number | string }).code ?? null, output: `${text}${error.killed === true ? '\n(npm was stopped: it ran past its time limit)' : ''}` });
    });
  });
  if (code !== 0) {
    const last = output.trim().split('\n').slice(-12).join('\n');
    throw new SkyError('PLUGIN_INSTALL_FAILED', `npm install into ${options.dir} failed (exit ${String(code)}): ${last}`, {
      hint: 'Check the package names and versions (or the tarball paths), and that the daemon\'s machine can reach the npm registry (or has the packages in its npm cache).',
      details: { dir: options.dir, packages: rawSpecs.slice(0, 16) },
    });
  }
  const installed = await Promise.all(specs.map((spec) => installedAs(options.dir, spec, before)));
  return { installed, log: tail(output) };
}
