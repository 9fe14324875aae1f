import { connect, withServer } from '../context.js';
import { report } from '../report.js';
import { UsageError } from '../usage.js';

/** Where the generated SSH configs, which run this command, are explained. */
const HELP = 'sky launch --help';

/**
 * `sky ssh-proxy CLUSTER RANK`: internal, run by ssh as ProxyCommand. Opens a tunnel to the
 * node through the API server (with this user's credentials, authorized like sky exec) and
 * copies bytes between it and stdin/stdout until either side closes. Errors go to stderr, where
 * ssh shows them.
 */
export async function main(args: readonly string[]): Promise<number> {
  try {
    const [cluster, rankText, ...rest] = args;
    if (cluster === undefined || rankText === undefined || rest.length > 0) throw new UsageError('sky ssh-proxy CLUSTER RANK is run by ssh, as the ProxyCommand of the SSH config sky launch writes: it takes a cluster name and a node rank', HELP);
    if (!/^\d{1,6}$/.test(rankText)) throw new UsageError(`the node rank must be a number (0 is the head), not ${JSON.stringify(rankText)}`, HELP);
    const client = await connect();
    const { socket, head } = await withServer(client, () => client.openSshTunnel(cluster, Number(rankText)));
    client.close();
    if (head.length > 0) process.stdout.write(head);
    return await new Promise<number>((resolve) => {
      let failed = false;
      socket.on('error', () => {
        failed = true;
      });
      process.stdout.on('error', () => socket.destroy());
      process.stdin.pipe(socket);
      socket.pipe(process.stdout);
      socket.once('close', () => resolve(failed ? 1 : 0));
    });
  } catch (err) {
    return report(err, HELP);
  }
}
