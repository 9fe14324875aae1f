import type { PoolBody } from '@sky/protocol';
import { connect } from '../context.js';
import { poolInfra, poolHostLines } from '../infra-format.js';
import { runOperation } from '../operation.js';
import { note, print } from '../output.js';
import { UsageError, type Invocation } from '../usage.js';

/** `sky ssh up|down [--infra POOL]`: one line per host; exit 1 when any host failed. */
export async function run({ action, options }: Invocation): Promise<number> {
  const verb = action.name;
  if (verb !== 'up' && verb !== 'down') throw new UsageError(`unknown action '${verb}' for sky ssh`, 'sky ssh --help');
  const infra = poolInfra(options.infra, `sky ssh ${verb} --help`);
  const body: PoolBody = infra === undefined ? {} : { infra };
  const where = infra ?? 'every SSH node pool';
  const client = await connect();
  try {
    note(verb === 'up' ? `Preparing the hosts of ${where}...` : `Removing what sky put on the hosts of ${where}...`);
    const outcome = await runOperation(client, verb === 'up' ? 'ssh_up' : 'ssh_down', body, { async: options.async, what: `sky ssh ${verb}` });
    if (!('result' in outcome)) return outcome.exitCode;
    const { hosts } = outcome.result;
    if (hosts.length === 0) {
      note(`sky: no hosts in ${where}`);
      note('  hint: declare pools in ~/.sky/ssh_node_pools.yaml (or drivers.ssh.pools of the daemon config), then see them with: sky check ssh');
      return 1;
    }
    const { lines, failed } = poolHostLines(outcome.result);
    print(lines.join('\n'));
    const of = `${hosts.length - failed} of ${hosts.length} ${hosts.length === 1 ? 'host' : 'hosts'}`;
    print(verb === 'up' ? `${of} ready.` : `${of} cleaned up.`);
    return failed > 0 ? 1 : 0;
  } finally {
    client.close();
  }
}
