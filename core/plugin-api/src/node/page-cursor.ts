import { SkyError } from '@sky/protocol';

/**
 * For stores: the cursor of a paged list, carrying the last id of the page (opaque to clients).
 * Each store (and listing) has its own prefix, so a cursor handed to another is refused.
 */
export interface PageCursor {
  encode(lastId: string): string;
  /** The id a cursor carries; SkyError VALIDATION_FAILED for one this store did not issue. */
  decode(cursor: string): string;
}

export function pageCursor(prefix: string): PageCursor {
  return {
    encode: (lastId) => Buffer.from(prefix + lastId, 'utf8').toString('base64url'),
    decode: (cursor) => {
      const raw = Buffer.from(cursor, 'base64url').toString('utf8');
      if (!raw.startsWith(prefix) || raw.length === prefix.length) {
        throw new SkyError('VALIDATION_FAILED', `cursor "${cursor}" is not a cursor this store issued`, {
          hint: 'pass the nextCursor of the previous page unchanged',
          details: { field: 'cursor' },
        });
      }
      return raw.slice(prefix.length);
    },
  };
}
