import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The X-Sky-Signature value of a body: `sha256=` and the hex HMAC-SHA256 of the exact bytes sent, keyed with the webhook's secret. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether a signature header is the body's (what a receiver checks; constant time). */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const want = Buffer.from(signBody(secret, body));
  const got = Buffer.from(header);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** A new webhook secret: 32 random bytes, base64url, with a prefix that says what it is. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** A new webhook id. */
export function newWebhookId(): string {
  return `wh-${randomBytes(8).toString('hex')}`;
}
