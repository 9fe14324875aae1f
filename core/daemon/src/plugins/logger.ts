import type { PluginLogger } from '@sky/plugin-api';
import type { LoaderLogger } from './types.js';

/** The logger a plugin gets: every line is tagged `{plugin: id}`, and a plugin's bad call can't throw into it. */
export function pluginLogger(base: LoaderLogger, id: string): PluginLogger {
  const tagged =
    (write: ((obj: object, msg?: string) => void) | undefined) =>
    (obj: object | string, msg?: string): void => {
      if (write === undefined) return;
      try {
        if (typeof obj === 'string') write({ plugin: id }, obj);
        else write({ ...obj, plugin: id }, msg);
      } catch {
        // logging must never fail a plugin
      }
    };
  return {
    debug: tagged(base.debug?.bind(base)),
    info: tagged(base.info.bind(base)),
    warn: tagged(base.warn.bind(base)),
    error: tagged(base.error.bind(base)),
  };
}
