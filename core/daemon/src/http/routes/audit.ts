import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import type { AuditLog } from '../../audit/audit-log.js';
import { bindRoute } from '../bind.js';

/** GET /api/v1/audit: the audit log, newest first (admins: the route table says so, and bindRoute enforces it). */
export function auditRoutes(router: Router, audit: AuditLog, maxBodyBytes: number): void {
  bindRoute(router, ROUTES.listAudit, maxBodyBytes, async (ctx, { query }) => {
    ctx.body = await audit.list(query);
  });
}
