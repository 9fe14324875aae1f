import { accessSync, constants } from 'node:fs';

/** Where Debian and other systems keep OpenSSH's sftp-server. */
export const SFTP_SERVERS = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/libexec/sftp-server', '/usr/lib/ssh/sftp-server'];

/** Whether `path` is a file this process may run. */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first of `paths` this process may run. */
export function firstExecutable(paths: readonly string[]): string | undefined {
  return paths.find(executable);
}

/** `text` single-quoted for sh. */
export function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
