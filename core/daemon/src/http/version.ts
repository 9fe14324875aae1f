import type { Context, Next } from 'koa';
import { API_VERSION, API_VERSION_HEADER, SkyError } from '@sky/protocol';

/** A version is a plain decimal integer ("1"), nothing Number() would also accept ("0x1", "1.0", " 1"). */
const VERSION_PATTERN = /^\d{1,9}$/;

/** Every answer carries the daemon's API version; a client speaking another one is told which side to upgrade. */
export async function versionMiddleware(ctx: Context, next: Next): Promise<void> {
  ctx.set(API_VERSION_HEADER, String(API_VERSION));
  const sent = ctx.get(API_VERSION_HEADER);
  if (sent !== '' && ctx.path !== '/api/health') {
    if (!VERSION_PATTERN.test(sent)) {
      throw new SkyError('VERSION_MISMATCH', `header ${API_VERSION_HEADER} must be an integer API version such as "${API_VERSION}", got "${sent}"`, {
        hint: `Send ${API_VERSION_HEADER}: ${API_VERSION}, or leave the header out.`,
      });
    }
    const version = Number(sent);
    if (version !== API_VERSION) {
      const upgrade = version > API_VERSION ? 'upgrade the API server' : 'upgrade this client (npm i -g sky)';
      throw new SkyError('VERSION_MISMATCH', `client speaks API v${version} but the API server speaks v${API_VERSION}: ${upgrade}`, {
        hint: upgrade,
        details: { client: version, server: API_VERSION },
      });
    }
  }
  await next();
}
