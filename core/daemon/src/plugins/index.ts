export { PluginLoader } from './loader.js';
export type { FailurePolicy, LoadedDriver, LoadedPlugins, LoaderLogger, PluginLoaderOptions } from './types.js';
export { DEFAULT_INIT_TIMEOUT_SECONDS, RESERVED_KEYS, driverPackageName } from './block.js';
export { searchDirs } from './resolve.js';
export { npmGlobalRoot, pluginSearchPath } from './dirs.js';
export { installPlugins, parseInstallSpec, npmInstallArgs, ensurePluginsDir, type InstallSpec, type Installed } from './install.js';
