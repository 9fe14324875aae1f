import type { SkyClient } from '@sky/client';
import { eventJsonLine, eventLine, parseFeedPosition } from '../event-format.js';
import { note, print } from '../output.js';
import { UsageError, type CliOptions } from '../usage.js';

/**
 * `sky api events`: print the changes of clusters, jobs, managed jobs, services and requests
 * the caller may see, one line each, until Ctrl-C. The client resumes with Last-Event-ID
 * after a dropped connection or a daemon restart, so no change is missed or printed twice.
 */
export async function events(client: SkyClient, options: CliOptions): Promise<number> {
  let after: number | undefined;
  if (options.since !== undefined) {
    after = parseFeedPosition(options.since);
    if (after === undefined) {
      throw new UsageError(`--since takes a feed position (the #SEQ of a change printed earlier), not "${options.since}": the event feed keeps no index by time`, 'sky api events --help');
    }
  }
  const json = options.output === 'json';
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await client.followEvents(
      { signal: controller.signal, allUsers: options.allUsers === true, ...(after === undefined ? {} : { after }) },
      {
        onChange: (event) => print(json ? eventJsonLine(event) : eventLine(event)),
        onReset: (seq, reason) => note(`The feed cannot resume there (${reason}); going on live from #${seq}.`),
        onReconnect: (seq, delayMs) => note(`The event stream dropped; reconnecting in ${Math.round(delayMs / 1000)}s${seq === undefined ? '' : ` from #${seq}`}.`),
      },
    );
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
