import { createHash, timingSafeEqual } from 'node:crypto';
import { SkyError } from '@sky/protocol';
import type { DaemonConfig } from '../config/schema.js';
import { expandHome } from '../config/load.js';
import { readPasswordFile } from '../auth/admin-seed.js';

/** Shortest scrape token accepted from a file (the same floor as metrics.token's). */
const MIN_TOKEN_CHARS = 16;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * The bearer token a Prometheus scraper reads GET /metrics with: it opens that route and no
 * other, and names no user (it is not an API token). Compared through SHA-256 digests in
 * constant time, so neither its content nor its length leaks through timing.
 */
export class ScrapeToken {
  private constructor(private readonly expected: Buffer) {}

  /** The token of the daemon config (metrics.token, or metrics.token_file: private to the daemon's account), if any. */
  static fromConfig(config: DaemonConfig['metrics']): ScrapeToken | undefined {
    if (config.token !== undefined) return new ScrapeToken(digest(config.token));
    if (config.token_file === undefined) return undefined;
    let token: string;
    try {
      token = readPasswordFile(expandHome(config.token_file), 'metrics.token_file').trim();
    } catch (err) {
      // Its own hint: the file reader's speaks of the first admin's password.
      if (!(err instanceof SkyError)) throw err;
      throw new SkyError('CONFIG_INVALID', err.message, { hint: 'Point metrics.token_file at a regular file of the daemon account, readable by it only (chmod 600), holding the scrape token.' });
    }
    if (token.length < MIN_TOKEN_CHARS) {
      throw new SkyError('CONFIG_INVALID', `metrics.token_file: ${config.token_file} must hold a token of at least ${MIN_TOKEN_CHARS} characters`, {
        hint: 'Generate one: openssl rand -base64 32 > FILE; chmod 600 FILE',
      });
    }
    return new ScrapeToken(digest(token));
  }

  /** Whether an Authorization header carries this token as its bearer credential. */
  matches(authorization: string): boolean {
    const found = /^bearer\s+(\S+)\s*$/i.exec(authorization);
    return found !== null && timingSafeEqual(digest(found[1]!), this.expected);
  }
}
