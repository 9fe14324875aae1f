import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { Identity } from '@sky/protocol';
import { SkyError } from '@sky/protocol/wire';
import { skyPaths } from './paths.js';

const USER_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** The login name, made safe for an HTTP header (printable ASCII, at most 64 characters). */
function userName(env: NodeJS.ProcessEnv): string {
  let name = '';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry for this uid (common in containers): fall back to the environment
  }
  if (name === '') name = env.USER ?? env.LOGNAME ?? 'unknown';
  return name.replace(/[^\x20-\x7e]/g, '_').slice(0, 64) || 'unknown';
}

async function readUserId(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const id = text.trim();
  if (!USER_ID.test(id)) {
    throw new SkyError('CONFIG_INVALID', `${file} does not hold a user id (expected 8 hex characters)`, {
      hint: `Delete ${file} to get a new user id.`,
    });
  }
  return id;
}

/**
 * The caller's user id: 8 hex characters created once in ~/.sky/user_hash. Creation writes a
 * private temp file and hard-links it into place, so concurrent first runs agree on one id.
 */
async function userId(file: string, dir: string): Promise<string> {
  const existing = await readUserId(file);
  if (existing !== undefined) return existing;
  await mkdir(dir, { recursive: true });
  const { randomBytes } = await import('node:crypto');
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${randomBytes(4).toString('hex')}\n`, { mode: 0o644 });
  try {
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const id = await readUserId(file);
  if (id === undefined) throw new Error(`${file} vanished while it was being created`);
  return id;
}

export interface IdentityOptions {
  home?: string;
  env?: NodeJS.ProcessEnv;
}

/** Who this client says it is (the x-sky-user-name / x-sky-user-id headers). */
export async function loadIdentity(options: IdentityOptions = {}): Promise<Identity> {
  const paths = skyPaths(options.home);
  return { id: await userId(paths.userHashFile, paths.skyDir), name: userName(options.env ?? process.env) };
}
