import type { CheckBody } from '@sky/protocol';
import { connect } from '../context.js';
import { checkInfra, checkLines } from '../infra-format.js';
import { runOperation } from '../operation.js';
import { note, print, printJson } from '../output.js';
import type { Invocation } from '../usage.js';

/** `sky check [INFRA...]`: exit 0 when every driver asked for is enabled and all its hosts are ready, 1 otherwise. */
export async function run({ args, options }: Invocation): Promise<number> {
  const infra = checkInfra(args);
  const body: CheckBody = infra.length > 0 ? { infra } : {};
  const client = await connect();
  try {
    const outcome = await runOperation(client, 'check', body);
    if (!('result' in outcome)) return outcome.exitCode;
    const report = checkLines(outcome.result, infra);
    if (options.output === 'json') printJson(outcome.result);
    else print(report.lines.join('\n'));
    if (!report.ok && options.output !== 'json') note(`Some infra is not ready: see the reasons above, fix them and rerun: sky check${infra.length > 0 ? ` ${infra.join(' ')}` : ''}`);
    return report.ok ? 0 : 1;
  } finally {
    client.close();
  }
}
