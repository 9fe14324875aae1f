import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { SkyError } from '@sky/protocol';

/** The environment variables that name the first admin; removed from the process environment when read. */
export const ADMIN_ENV = ['SKY_ADMIN_USERNAME', 'SKY_ADMIN_PASSWORD', 'SKY_ADMIN_PASSWORD_FILE'] as const;

/** The first admin as the environment gave it. */
export interface AdminEnv {
  username?: string;
  password?: string;
  passwordFile?: string;
}

/**
 * Read the first admin's variables and delete them from `env`, so no process the daemon starts
 * afterwards inherits them. (Linux keeps showing the environment a process was started with
 * in /proc/<pid>/environ to its own account, so a password file is the better way to pass it.)
 */
export function takeAdminEnv(env: NodeJS.ProcessEnv): AdminEnv {
  const out: AdminEnv = {};
  const username = env.SKY_ADMIN_USERNAME;
  const password = env.SKY_ADMIN_PASSWORD;
  const passwordFile = env.SKY_ADMIN_PASSWORD_FILE;
  for (const name of ADMIN_ENV) delete env[name];
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  if (passwordFile !== undefined && passwordFile !== '') out.passwordFile = passwordFile;
  return out;
}

function invalid(message: string, hint: string): SkyError {
  return new SkyError('CONFIG_INVALID', message, { hint });
}

/**
 * The password in a file only the daemon's account may access: a regular file owned by that
 * account with no group or other permission. One trailing newline is ignored.
 */
export function readPasswordFile(path: string, origin: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw invalid(`${origin}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'Point it at a file the daemon account can read, holding the first admin password.');
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw invalid(`${origin}: ${path} is not a regular file`, 'Put the password in a regular file (chmod 600).');
    const uid = process.getuid?.();
    if (uid !== undefined && stat.uid !== uid) {
      throw invalid(`${origin}: ${path} belongs to uid ${stat.uid}, not to the daemon's account (uid ${uid})`, `chown it to the daemon's account and chmod 600 ${path}.`);
    }
    if ((stat.mode & 0o077) !== 0) {
      throw invalid(`${origin}: ${path} is accessible to other accounts (mode ${(stat.mode & 0o777).toString(8).padStart(3, '0')})`, `Make it private first: chmod 600 ${path}.`);
    }
    return readFileSync(fd, 'utf8').replace(/\r?\n$/, '');
  } finally {
    closeSync(fd);
  }
}
