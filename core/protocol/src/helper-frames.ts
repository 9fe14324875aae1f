import { HELPER_LIMITS } from './helper.js';
import { SkyError } from './wire/errors.js';

/**
 * Framing of the node-helper socket: each frame is
 *
 *   u32 BE header length | u32 BE payload length | header (UTF-8 JSON) | payload (raw bytes)
 *
 * The header is one request or response object; the payload carries file bytes beside it.
 */
export interface HelperFrame {
  header: unknown;
  payload: Uint8Array;
}

const PREFIX = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encode one frame. Throws VALIDATION_FAILED when it exceeds the limits. */
export function encodeHelperFrame(header: unknown, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = encoder.encode(JSON.stringify(header));
  if (json.length > HELPER_LIMITS.headerBytes || payload.length > HELPER_LIMITS.payloadBytes) {
    throw new SkyError('VALIDATION_FAILED', `node helper frame too large (${json.length} header bytes, ${payload.length} payload bytes)`);
  }
  const out = new Uint8Array(PREFIX + json.length + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length);
  view.setUint32(4, payload.length);
  out.set(json, PREFIX);
  out.set(payload, PREFIX + json.length);
  return out;
}

/**
 * Splits a byte stream into frames. `push` returns every frame completed by the chunk and throws
 * a SkyError (VALIDATION_FAILED) on a frame over the limits or a header that is not JSON: the
 * stream cannot be resynchronised after that, so the connection must be closed.
 */
export class HelperFrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  push(chunk: Uint8Array): HelperFrame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: HelperFrame[] = [];
    for (;;) {
      if (this.buffered < PREFIX) return frames;
      const head = this.peek(PREFIX);
      const view = new DataView(head.buffer, head.byteOffset, PREFIX);
      const headerBytes = view.getUint32(0);
      const payloadBytes = view.getUint32(4);
      if (headerBytes > HELPER_LIMITS.headerBytes || payloadBytes > HELPER_LIMITS.payloadBytes) {
        throw new SkyError('VALIDATION_FAILED', `node helper frame too large (${headerBytes} header bytes, ${payloadBytes} payload bytes)`);
      }
      const total = PREFIX + headerBytes + payloadBytes;
      if (this.buffered < total) return frames;
      const whole = this.take(total);
      let header: unknown;
      try {
        header = JSON.parse(decoder.decode(whole.subarray(PREFIX, PREFIX + headerBytes)));
      } catch {
        throw new SkyError('VALIDATION_FAILED', 'node helper frame header is not UTF-8 JSON');
      }
      frames.push({ header, payload: whole.subarray(PREFIX + headerBytes) });
    }
  }

  /** Bytes waiting for the rest of their frame. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    this.chunks = [concat(this.chunks, this.buffered)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const all = this.chunks.length === 1 ? this.chunks[0]! : concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
