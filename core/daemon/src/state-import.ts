import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { Logger } from 'pino';
import { SkyError } from '@sky/protocol';
import { readStateFile, supportsStateTransfer, type ImportSummary, type StateStore } from '@sky/plugin-api';
import { RequestIdFactory } from './scheduler/ids.js';

/** What an import loaded, for the log and the terminal. */
export interface StateImportReport {
  file: string;
  from: { storeKind: string; schemaVersion: number; exportedAt: number };
  into: string;
  summary: ImportSummary;
}

function osAccount(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/**
 * `sky-daemon --import FILE`: load a state file (sky api export) into the configured store
 * before the daemon serves. The store must be empty (STATE_NOT_EMPTY otherwise, nothing
 * written); a file that is not a whole sky-state file, or of a newer format version, is refused
 * with STATE_FILE_INVALID before anything is written (the stores import in one transaction or
 * one batch). The import is audited in the imported log, as the OS account that ran it.
 */
export async function importStateFile(store: StateStore, file: string, logger: Logger): Promise<StateImportReport> {
  try {
    await access(file, constants.R_OK);
  } catch {
    throw new SkyError('USAGE', `--import ${file}: no such file, or not readable by this account`, { hint: 'Pass the file `sky api export FILE` wrote.' });
  }
  if (!supportsStateTransfer(store)) {
    throw new SkyError('NOT_SUPPORTED', `the ${store.kind} state store cannot import a state file (it implements plugin API 1.6 or older, without importState)`, {
      hint: 'Import into the LevelDB or PostgreSQL store, or upgrade the store plugin.',
    });
  }
  await store.open();
  try {
    const reader = await readStateFile(createReadStream(file), file);
    const summary = await store.importState(reader.items);
    const at = Date.now();
    const account = osAccount();
    await store.audit.append({
      id: new RequestIdFactory().next(at),
      at,
      user: `os:${account}`,
      userName: account,
      action: 'state.import',
      target: file.slice(-200),
      result: 'SUCCEEDED',
      detail: `from ${reader.header.storeKind} (schema ${reader.header.schemaVersion}) exported at ${new Date(reader.header.exportedAt).toISOString()}`,
    });
    const report: StateImportReport = {
      file,
      from: { storeKind: reader.header.storeKind, schemaVersion: reader.header.schemaVersion, exportedAt: reader.header.exportedAt },
      into: store.kind,
      summary,
    };
    logger.info(report, 'imported a state file into the empty store');
    return report;
  } finally {
    await store.close();
  }
}
