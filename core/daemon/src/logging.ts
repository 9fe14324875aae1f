import { writeSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';
import { SkyError } from '@sky/protocol';
import { ensureDir } from './fs.js';
import { SafeLogDestination } from './log-destination.js';

/** Paths and fields never written to the server log. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secrets',
  '*.secrets',
  'body.secrets',
  'body.task.secrets',
  '*.task.secrets',
  'authorization',
  '*.authorization',
];

/** The daemon's logger and the file destination under it (which knows whether lines are being dropped). */
export interface DaemonLog {
  logger: Logger;
  file: SafeLogDestination;
}

/** Best effort: one line on the daemon's stderr, never an error (stderr may be the same full disk). */
export function writeStderr(text: string): void {
  try {
    writeSync(2, text.endsWith('\n') ? text : `${text}\n`);
  } catch {
    // nowhere left to say it
  }
}

/**
 * pino to the server log file (and stdout in the foreground when asked). Writing never
 * throws: a line that cannot be written (full disk, I/O error) is dropped and counted, and the
 * count is logged once writing works again (SafeLogDestination).
 */
export function createLogger(file: string, level: string, stdout: boolean): DaemonLog {
  ensureDir(dirname(file), 'log');
  let destination: SafeLogDestination;
  try {
    destination = SafeLogDestination.file(file, (code) =>
      writeStderr(`sky daemon: cannot write the server log ${file} (${code}); log lines are dropped and counted until it can be written again`),
    );
  } catch (err) {
    throw new SkyError('STATE_UNAVAILABLE', `cannot write the server log ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'Choose a writable state_dir (or log.file) in the daemon config.',
    });
  }
  const options = { level, base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '***' } };
  if (!stdout) return { logger: pino(options, destination), file: destination };
  return { logger: pino(options, pino.multistream([{ stream: destination }, { stream: new SafeLogDestination(1) }])), file: destination };
}
