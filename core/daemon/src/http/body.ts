import type { Context } from 'koa';
import { SkyError } from '@sky/protocol';

/**
 * How much of a refused body is read (and thrown away) before the answer, so the connection can
 * carry the client's next request. A body longer than that is answered at once and its
 * connection closed.
 */
const DISCARD_LIMIT_BYTES = 1024 * 1024;

/**
 * The request body's bytes, refused once over `maxBytes` (declared or sent). The request
 * stream is never destroyed here: node's HTTP parser would go on pushing the rest of the body
 * into the dead stream, stop reading the socket at the first refused push, and every later
 * request on that keep-alive connection would wait forever. An oversized body is drained
 * instead (up to DISCARD_LIMIT_BYTES), or its connection is closed with the answer.
 */
function readBytes(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || '0');
  const req = ctx.req;
  if (declared > maxBytes) {
    // Node reads and drops an unread body after the answer; one this large is not worth reading.
    if (declared - maxBytes > DISCARD_LIMIT_BYTES) ctx.set('connection', 'close');
    return Promise.reject(tooLarge(maxBytes));
  }
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('error', onError);
      req.off('close', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      chunks = [];
      if (size - maxBytes > DISCARD_LIMIT_BYTES) {
        // The stream keeps flowing (into nothing) until the answer is out and the socket closes.
        stop();
        ctx.set('connection', 'close');
        reject(tooLarge(maxBytes));
      }
    };
    const onEnd = (): void => {
      stop();
      if (size > maxBytes) reject(tooLarge(maxBytes));
      else resolve(Buffer.concat(chunks, size));
    };
    // The client went away mid-body: its fault, not an internal error of the daemon.
    const ended = (why: string): void => {
      stop();
      reject(
        new SkyError('INVALID_JSON', `request body ended after ${size} bytes: ${why}`, {
          hint: 'Send the whole body (Content-Length must match it).',
        }),
      );
    };
    const onAborted = (): void => ended('the client closed the connection');
    const onError = (err: Error): void => ended(err.message);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('aborted', onAborted);
    req.once('error', onError);
    req.once('close', onAborted);
  });
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
