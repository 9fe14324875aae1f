/**
 * Version of the plugin contract in this package. Plugins declare the semver range they
 * were built against (`apiVersion: '^1.0.0'`); the daemon refuses a plugin whose range
 * does not include this version.
 */
export const PLUGIN_API_VERSION = '1.10.0';

/** Property every sky plugin carries, so the loader can tell a plugin from any other package. */
export const PLUGIN_BRAND = 'sky.plugin' as const;
