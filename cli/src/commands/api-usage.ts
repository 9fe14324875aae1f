import type { SkyClient } from '@sky/client';
import { withServer } from '../context.js';
import { note, print, printJson } from '../output.js';
import { parseUsageWindow, usageTable } from '../usage-report-format.js';
import { UsageError, type CliOptions } from '../usage.js';

/** `sky api usage --since … [--until …] [-u] [-o json]`: the usage report of the period. */
export async function usage(client: SkyClient, options: CliOptions): Promise<number> {
  if (options.since === undefined) throw new UsageError('sky api usage needs --since: an ISO date or time (2026-01-31) or an age like 7d, 24h', 'sky api usage --help');
  const window = parseUsageWindow(options.since, options.until);
  if (window === undefined) {
    const bad = parseUsageWindow(options.since, undefined) === undefined ? `--since "${options.since}"` : `--until "${options.until ?? ''}"`;
    throw new UsageError(`${bad}: give an ISO date or time (2026-01-31, 2026-01-31T12:00:00Z) or an age like 30m, 1h, 7d, 1w`, 'sky api usage --help');
  }
  if (window.until !== undefined && window.until < window.since) throw new UsageError('--until is before --since', 'sky api usage --help');
  const report = await withServer(client, () => client.usage({ ...window, allUsers: options.allUsers === true }));
  if (options.output === 'json') {
    printJson(report);
    return 0;
  }
  for (const line of usageTable(report)) print(line);
  if (report.rows.length === 0) note('No usage in this period.');
  return 0;
}
