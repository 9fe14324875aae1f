import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SkyError } from '@sky/protocol';

/** The file in the state directory that lists plugins stopped for good after they took the daemon down. */
export const QUARANTINE_FILE = 'plugin-quarantine.json';

/** One quarantined plugin, as the watchdog recorded it. */
export interface QuarantineEntry {
  readonly package: string;
  readonly version?: string;
  readonly reason: string;
  /** When (ms since the epoch). */
  readonly at: number;
}

export function quarantinePath(stateDir: string): string {
  return join(stateDir, QUARANTINE_FILE);
}

function isEntry(value: unknown): value is QuarantineEntry {
  const v = value as Partial<QuarantineEntry> | null;
  return typeof v === 'object' && v !== null && typeof v.package === 'string' && typeof v.reason === 'string' && typeof v.at === 'number';
}

/** The quarantine list by driver id; an absent or unreadable file is an empty list (a damaged one is logged by the caller). */
export function readQuarantine(stateDir: string): { entries: Map<string, QuarantineEntry>; problem?: string } {
  const file = quarantinePath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: new Map() };
    return { entries: new Map(), problem: `cannot read ${file}: ${(err as Error).message}` };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    const entries = new Map<string, QuarantineEntry>();
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      for (const [id, entry] of Object.entries(parsed)) if (isEntry(entry)) entries.set(id, entry);
    }
    return { entries };
  } catch (err) {
    return { entries: new Map(), problem: `${file} is not JSON (${(err as Error).message}); ignoring it` };
  }
}

/**
 * The refusal for a quarantined plugin, unless another version is installed now (an upgrade or
 * a downgrade is the operator's fix, so it is loaded again).
 */
export function quarantineRefusal(stateDir: string, id: string, entry: QuarantineEntry, packageName: string, version: string | undefined): SkyError | undefined {
  if (entry.package !== packageName || entry.version !== version) return undefined;
  const at = new Date(entry.at).toISOString();
  const file = quarantinePath(stateDir);
  return new SkyError(
    'PLUGIN_FAILED',
    `drivers.${id}: ${packageName}${version === undefined ? '' : `@${version}`} is quarantined since ${at}: ${entry.reason}; ` +
      `to load it again, install another version, or remove "${id}" from ${file} and restart the API server`,
    {
      hint:
        `Install a fixed release of ${packageName} (another version is loaded again), or, to retry this one, remove "${id}" from ${file} ` +
        `(or delete the file) and restart the API server: sky daemon stop, then sky daemon start with the same --config.`,
      details: { plugin: id, package: packageName, ...(version === undefined ? {} : { version }), quarantineFile: file },
    },
  );
}

/** Add (or replace) entries of the quarantine list, written whole through a temporary file. */
export function addToQuarantine(stateDir: string, added: ReadonlyMap<string, QuarantineEntry>): void {
  const { entries } = readQuarantine(stateDir);
  for (const [id, entry] of added) entries.set(id, entry);
  const file = quarantinePath(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(Object.fromEntries(entries), null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}
