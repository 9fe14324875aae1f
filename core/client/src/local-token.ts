import { readFile } from 'node:fs/promises';
import { skyPaths } from './paths.js';

const TOKEN_PATTERN = /^skl_[A-Za-z0-9_-]{43}$/;

/**
 * The personal daemon's local token, from ~/.sky/api_server/local_token (undefined when the
 * file is missing or unreadable: another account's daemon, or none started yet).
 */
export async function readLocalToken(home?: string): Promise<string | undefined> {
  try {
    const text = (await readFile(skyPaths(home).localTokenFile, 'utf8')).trim();
    return TOKEN_PATTERN.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}
