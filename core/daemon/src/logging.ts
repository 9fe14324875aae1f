import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';
import { SkyError } from '@sky/protocol';
import { ensureDir } from './fs.js';

/** Paths and fields never written to the server log. */
export const REDACT_PATHS = ['password', '*.password', 'token', '*.token', 'secrets', '*.secrets', 'body.secrets', 'authorization', '*.authorization'];

/** pino to the server log file (and stdout in the foreground when asked). */
export function createLogger(file: string, level: string, stdout: boolean): Logger {
  ensureDir(dirname(file), 'log');
  let destination: pino.DestinationStream;
  try {
    destination = pino.destination({ dest: file, sync: true });
  } catch (err) {
    throw new SkyError('STATE_UNAVAILABLE', `cannot write the server log ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'Choose a writable state_dir (or log.file) in the daemon config.',
    });
  }
  const options = { level, base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '***' } };
  if (!stdout) return pino(options, destination);
  return pino(options, pino.multistream([{ stream: destination }, { stream: process.stdout }]));
}
