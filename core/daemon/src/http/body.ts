import type { Context } from 'koa';
import { SkyError } from '@sky/protocol';

/** The request body's bytes, refused once over `maxBytes` (declared or sent). */
async function readBytes(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || '0');
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof SkyError) throw err;
    // The client went away mid-body ("aborted"): its fault, not an internal error of the daemon.
    throw new SkyError('INVALID_JSON', `request body ended after ${size} bytes: ${(err as Error).message}`, {
      hint: 'Send the whole body (Content-Length must match it).',
    });
  }
  return Buffer.concat(chunks, size);
}

/** Read and parse a JSON request body with a size limit; an empty body is `{}`. */
export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
  const bytes = await readBytes(ctx, maxBytes);
  if (bytes.length === 0) return {};
  const type = ctx.get('content-type');
  if (!/^application\/(.+\+)?json\s*(;|$)/i.test(type)) {
    throw new SkyError('UNSUPPORTED_MEDIA_TYPE', `request body has content-type "${type || '(none)'}"; only application/json is accepted`, {
      hint: 'Send the body as JSON with Content-Type: application/json.',
    });
  }
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw new SkyError('INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`, {
      hint: 'Send a JSON object, e.g. {"sleep": 1}.',
    });
  }
}

/** Read a raw request body of `contentType` with a size limit. */
export async function readRawBody(ctx: Context, maxBytes: number, contentType: string): Promise<Buffer> {
  const type = ctx.get('content-type');
  if (type.split(';')[0]!.trim().toLowerCase() !== contentType) {
    throw new SkyError('UNSUPPORTED_MEDIA_TYPE', `request body has content-type "${type || '(none)'}"; only ${contentType} is accepted here`, {
      hint: `Send the bytes with Content-Type: ${contentType}.`,
    });
  }
  return readBytes(ctx, maxBytes);
}

function tooLarge(maxBytes: number): SkyError {
  return new SkyError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`, {
    hint: 'Send a smaller body, or raise requests.max_body_bytes in the daemon config.',
  });
}
