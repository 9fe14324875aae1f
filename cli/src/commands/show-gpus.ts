import type { PoolBody } from '@sky/protocol';
import { connect } from '../context.js';
import { gpuInfra, gpuLines } from '../infra-format.js';
import { runOperation } from '../operation.js';
import { print, printJson } from '../output.js';
import type { Invocation } from '../usage.js';

/** `sky show-gpus [--infra ssh[/POOL]]`: a table per pool of the GPUs on each host and who holds it. */
export async function run({ options }: Invocation): Promise<number> {
  const infra = gpuInfra(options.infra);
  const body: PoolBody = infra === undefined ? {} : { infra };
  const client = await connect();
  try {
    const outcome = await runOperation(client, 'show_gpus', body);
    if (!('result' in outcome)) return outcome.exitCode;
    if (options.output === 'json') printJson(outcome.result);
    else print(gpuLines(outcome.result).join('\n'));
    return 0;
  } finally {
    client.close();
  }
}
