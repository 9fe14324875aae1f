import { defineDriverPlugin } from '@sky/plugin-api';
import { configSchema, type ExampleConfig } from './config.js';
import { createDriver } from './driver.js';

/**
 * sky-driver-example: configured as `drivers.example` in the daemon config. The daemon finds
 * the package by name (`example` → `sky-driver-example`), checks the brand and `apiVersion`,
 * validates the block with `configSchema`, then calls `init` once, within its deadline.
 */
export default defineDriverPlugin<ExampleConfig>({
  name: 'sky-driver-example',
  // The plugin API this plugin is built against: @sky/plugin-api's version, major = API major.
  apiVersion: '^1.7.0',
  configSchema,
  async init(ctx) {
    ctx.logger.info({ hosts: ctx.config.hosts.length }, `sky-driver-example: ${ctx.config.hosts.length} host(s), host keys pinned`);
    return createDriver(ctx.config, ctx.dataDir, ctx.logger);
  },
});
