import type Router from '@koa/router';
import { ROUTES, SkyError } from '@sky/protocol';
import type { AuditLog } from '../../audit/audit-log.js';
import type { PluginRegistry } from '../../tokens.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';

export interface PluginRouteDeps {
  plugins: PluginRegistry;
  audit: AuditLog;
  maxBodyBytes: number;
}

/**
 * POST /api/v1/plugins/install (admins; bindRoute refuses everyone else, and the access policy
 * audits the refusal): npm installs the packages into the daemon's plugins directory, always
 * with scripts off. Each install is audited with what was asked and what it became, or why it
 * failed.
 */
export function pluginRoutes(router: Router, deps: PluginRouteDeps): void {
  bindRoute(router, ROUTES.installPlugins, deps.maxBodyBytes, async (ctx, { body }) => {
    const caller = callerOf(ctx);
    const asked = body.packages.map((p) => p.slice(0, 200)).join(' ');
    try {
      const result = await deps.plugins.install(body.packages);
      const detail = result.installed.map((i) => `${i.package}${i.version === undefined ? '' : `@${i.version}`}`).join(', ');
      await deps.audit.record({ user: caller.id, userName: caller.name, action: 'plugin.install', result: 'SUCCEEDED', target: asked.slice(0, 200), detail: `installed ${detail} into ${result.dir}` });
      ctx.body = result;
    } catch (err) {
      const code = err instanceof SkyError ? err.code : 'INTERNAL';
      await deps.audit.record({ user: caller.id, userName: caller.name, action: 'plugin.install', result: 'FAILED', target: asked.slice(0, 200), detail: code });
      throw err;
    }
  });
}
