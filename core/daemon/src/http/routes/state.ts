import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import { ROUTES, SkyError, STATE_FILE_MEDIA_TYPE } from '@sky/protocol';
import { encodeStateFile, supportsStateTransfer, type StateStore } from '@sky/plugin-api';
import type { AuditLog } from '../../audit/audit-log.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';

export interface StateRouteDeps {
  store: StateStore;
  audit: AuditLog;
  logger: Logger;
  maxBodyBytes: number;
}

/** `sky-state-20261207T131500Z.jsonl` (.gz): a file name that says what and when. */
function fileName(at: number, gzip: boolean): string {
  const stamp = new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `sky-state-${stamp}.jsonl${gzip ? '.gz' : ''}`;
}

/**
 * GET /api/v1/admin/export (admins; the route table says so and bindRoute enforces it): the
 * whole state, streamed as a sky-state file while the daemon goes on serving. The export is
 * audited once the file has been sent (SUCCEEDED), or when the stream broke off (FAILED, with
 * the reason); a refused caller is audited by the access policy.
 */
export function stateRoutes(router: Router, deps: StateRouteDeps): void {
  bindRoute(router, ROUTES.exportState, deps.maxBodyBytes, async (ctx, { query }) => {
    const { store } = deps;
    if (!supportsStateTransfer(store)) {
      throw new SkyError('NOT_SUPPORTED', `the ${store.kind} state store cannot export its state (it implements plugin API 1.6 or older, without exportState)`, {
        hint: 'Upgrade the store plugin to one built against plugin API 1.7 or newer.',
      });
    }
    const caller = callerOf(ctx);
    const exportedAt = Date.now();
    const gzip = query.gzip ?? false;
    const lines = encodeStateFile({ exportedAt, storeKind: store.kind, schemaVersion: await store.schemaVersion() }, store.exportState());
    const source = Readable.from(lines, { objectMode: false });
    let failure: string | undefined;
    source.on('error', (err: Error) => {
      failure = err instanceof SkyError ? err.code : 'INTERNAL';
      deps.logger.error({ err }, 'the state export failed while streaming; the client gets a truncated file, which import refuses');
    });
    const body = gzip ? source.pipe(createGzip()) : source;
    if (gzip) source.on('error', (err) => body.destroy(err));
    ctx.req.socket.setTimeout(0);
    ctx.status = 200;
    ctx.set('content-type', gzip ? 'application/gzip' : `${STATE_FILE_MEDIA_TYPE}; charset=utf-8`);
    ctx.set('content-disposition', `attachment; filename="${fileName(exportedAt, gzip)}"`);
    ctx.set('cache-control', 'no-store');
    ctx.body = body;
    let audited = false;
    const audit = (result: 'SUCCEEDED' | 'FAILED', detail?: string): void => {
      if (audited) return;
      audited = true;
      void deps.audit.record({ user: caller.id, userName: caller.name, action: 'state.export', result, detail: detail ?? `store ${store.kind}${gzip ? ', gzip' : ''}` });
    };
    ctx.res.on('finish', () => (failure === undefined ? audit('SUCCEEDED') : audit('FAILED', failure)));
    ctx.res.on('close', () => audit('FAILED', failure ?? 'the client went away before the end of the file'));
  });
}
