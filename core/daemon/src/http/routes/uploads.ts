import type Router from '@koa/router';
import { ROUTES, UPLOAD_CHUNK_BYTES } from '@sky/protocol';
import type { UploadService } from '../../uploads/upload-service.js';
import { bindRoute } from '../bind.js';
import { readRawBody } from '../body.js';
import { identityOf } from '../identity.js';

/** Uploads: every route acts on the caller's own uploads only. */
export function uploadRoutes(router: Router, uploads: UploadService, maxManifestBytes: number): void {
  bindRoute(router, ROUTES.createUpload, maxManifestBytes, async (ctx, { body }) => {
    ctx.body = await uploads.create(identityOf(ctx), body);
  });
  bindRoute(router, ROUTES.getUpload, maxManifestBytes, async (ctx, { params }) => {
    ctx.body = await uploads.view(identityOf(ctx), params.id);
  });
  bindRoute(router, ROUTES.putChunk, maxManifestBytes, async (ctx, { params }) => {
    const data = await readRawBody(ctx, UPLOAD_CHUNK_BYTES, ROUTES.putChunk.rawBody.contentType);
    ctx.body = await uploads.putChunk(identityOf(ctx), params.hash, data);
    ctx.status = 201;
  });
}
