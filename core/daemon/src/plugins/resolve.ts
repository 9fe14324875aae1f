import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { SkyError } from '@sky/protocol';
import { describeThrown } from './thrown.js';

/** Where a plugin package was found and the file to import. */
export interface ResolvedPackage {
  readonly packageName: string;
  /** The package directory. */
  readonly dir: string;
  /** Absolute path of the ESM entry. */
  readonly entry: string;
  readonly version: string | undefined;
}

export interface SearchPath {
  /** Searched first, as `<dir>/<package>`. */
  readonly pluginDirs: readonly string[];
  /** Searched next: every `node_modules` from each of these up to the root. */
  readonly searchFrom: readonly string[];
  /** Searched last, as `<dir>/<package>` (npm's global packages). */
  readonly lastDirs?: readonly string[];
}

/** Conditions the loader imports under, as Node would for `import()`. */
const IMPORT_CONDITIONS = new Set(['import', 'node', 'default']);

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Directories to look in, in order: each plugin dir, every `node_modules` from each searchFrom dir up to the root, then the last dirs. */
export function searchDirs(search: SearchPath): string[] {
  const dirs: string[] = search.pluginDirs.map((d) => resolve(d));
  for (const start of search.searchFrom) {
    let dir = resolve(start);
    for (;;) {
      dirs.push(join(dir, 'node_modules'));
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  for (const dir of search.lastDirs ?? []) dirs.push(resolve(dir));
  return [...new Set(dirs)];
}

/** Find `<dir>/<name>/package.json` in the search path, or fail with PLUGIN_NOT_FOUND listing every place searched. */
export async function findPackageDir(id: string, packageName: string, search: SearchPath): Promise<string> {
  const dirs = searchDirs(search);
  for (const dir of dirs) {
    const candidate = join(dir, packageName);
    if (await isFile(join(candidate, 'package.json'))) return candidate;
  }
  const overridden = packageName !== `sky-driver-${id}` && packageName !== id;
  const fix = overridden
    ? `run \`sky plugins install ${packageName}\` (an admin; it installs into the daemon's plugins directory), or correct drivers.${id}.package`
    : `run \`sky plugins install ${packageName}\` (an admin; it installs into the daemon's plugins directory), or set drivers.${id}.package to the plugin's package name`;
  throw new SkyError(
    'PLUGIN_NOT_FOUND',
    `drivers.${id}: plugin package ${packageName} is not installed (searched ${dirs.length > 0 ? dirs.join(', ') : 'nowhere: no plugin dirs or search roots are configured'}): ${fix}`,
    {
      hint: `Run \`sky plugins install ${packageName}\` (or \`npm install --prefix ~/.sky/plugins ${packageName}\` as the daemon's account), or set drivers.${id}.package to the package that provides this driver.`,
      details: { plugin: id, package: packageName, searched: dirs },
    },
  );
}

function conditionTarget(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (const item of value) {
      const target = conditionTarget(item);
      if (target !== undefined) return target;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    // Node takes the first matching condition in the object's own key order.
    for (const [condition, target] of Object.entries(value)) {
      if (!IMPORT_CONDITIONS.has(condition)) continue;
      const resolved = conditionTarget(target);
      if (resolved !== undefined) return resolved;
    }
  }
  return undefined;
}

/** The `.` target of a package.json `exports` field, under the import conditions; undefined when there is none. */
export function exportsRootTarget(exportsField: unknown): string | undefined {
  if (typeof exportsField === 'object' && exportsField !== null && !Array.isArray(exportsField)) {
    const keys = Object.keys(exportsField);
    if (keys.some((k) => k.startsWith('.'))) return conditionTarget((exportsField as Record<string, unknown>)['.']);
  }
  return conditionTarget(exportsField);
}

function loadFailed(id: string, packageName: string, dir: string, what: string, cause?: unknown): SkyError {
  return new SkyError('PLUGIN_LOAD_FAILED', `drivers.${id}: ${packageName} at ${dir} ${what}: reinstall ${packageName}`, {
    hint: `Reinstall the plugin (\`npm install ${packageName}\`); if it is a local plugin, build it first.`,
    details: { plugin: id, package: packageName, dir },
    cause,
  });
}

/** Read the package's package.json and pick its ESM entry: `exports['.']` (import/default), else `main`, else `index.js`. */
export async function resolveEntry(id: string, packageName: string, dir: string): Promise<ResolvedPackage> {
  let manifest: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('package.json is not a JSON object');
    manifest = parsed as Record<string, unknown>;
  } catch (error) {
    throw loadFailed(id, packageName, dir, `has an unreadable package.json (${describeThrown(error)})`, error);
  }
  const version = typeof manifest['version'] === 'string' ? manifest['version'] : undefined;

  let candidates: string[];
  let source: string;
  if (manifest['exports'] !== undefined) {
    const target = exportsRootTarget(manifest['exports']);
    if (target === undefined) {
      throw loadFailed(id, packageName, dir, `has a package.json "exports" with no import or default entry for "."`);
    }
    candidates = [resolve(dir, target)];
    source = `"exports"`;
  } else if (typeof manifest['main'] === 'string' && manifest['main'].length > 0) {
    const main = resolve(dir, manifest['main']);
    // "main" keeps its CommonJS leniency: a missing extension or a directory with index.js.
    candidates = [main, `${main}.js`, join(main, 'index.js')];
    source = `"main"`;
  } else {
    candidates = [join(dir, 'index.js')];
    source = 'the default index.js';
  }
  for (const candidate of candidates) {
    if (await isFile(candidate)) return { packageName, dir, entry: candidate, version };
  }
  throw loadFailed(id, packageName, dir, `has no entry file ${candidates[0] ?? dir} (named by ${source}); the package is unbuilt or damaged`);
}

/** Find a plugin package and its entry file. */
export async function resolvePackage(id: string, packageName: string, search: SearchPath): Promise<ResolvedPackage> {
  const dir = await findPackageDir(id, packageName, search);
  return resolveEntry(id, packageName, dir);
}
