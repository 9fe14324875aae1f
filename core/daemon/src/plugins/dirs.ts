import { dirname, join, resolve } from 'node:path';
import type { SearchPath } from './resolve.js';

/**
 * npm's global package directory (`npm root -g`) worked out without running npm: the prefix npm
 * is configured with (`npm_config_prefix`, as npm itself exports it to scripts, or
 * `NPM_CONFIG_PREFIX`), else the prefix of the Node.js running the daemon, whose npm installs
 * global packages under `<prefix>/lib/node_modules` by default.
 */
export function npmGlobalRoot(env: NodeJS.ProcessEnv, execPath: string): string {
  const configured = env['npm_config_prefix'] ?? env['NPM_CONFIG_PREFIX'];
  const prefix = configured !== undefined && configured.length > 0 ? resolve(configured) : dirname(dirname(execPath));
  return process.platform === 'win32' ? join(prefix, 'node_modules') : join(prefix, 'lib', 'node_modules');
}

export interface PluginDirsOptions {
  /** plugins.dirs, home-expanded: `<dir>/<package>`. */
  readonly dirs: readonly string[];
  /** plugins.install_dir, home-expanded: the npm prefix `sky plugins install` fills. */
  readonly installDir: string;
  /** plugins.global: also search npm's global packages. */
  readonly global: boolean;
  /** The working directory and the daemon's own install, whose node_modules (walking up) are searched. */
  readonly searchFrom: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly execPath: string;
}

/**
 * Where the daemon looks for a plugin package, in order: plugins.dirs; the plugins directory
 * (`<install_dir>/node_modules`); node_modules from the working directory and from the daemon's
 * install up to the root; npm's global packages. The first directory holding the package wins.
 */
export function pluginSearchPath(options: PluginDirsOptions): SearchPath {
  return {
    pluginDirs: [...options.dirs, join(options.installDir, 'node_modules')],
    searchFrom: options.searchFrom,
    lastDirs: options.global ? [npmGlobalRoot(options.env, options.execPath)] : [],
  };
}
