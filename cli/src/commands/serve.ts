import type { SkyClient } from '@sky/client';
import { confirmOrAbort } from '../confirm.js';
import { connect, withServer } from '../context.js';
import { runOperation } from '../operation.js';
import { note, print } from '../output.js';
import { checkServiceNames, downSelection, endpointQuery, logTarget } from '../serve-args.js';
import { serveStatusLines } from '../serve-format.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';

/** `sky serve <action>`: up, update, status, down, logs, token. */
export async function run(invocation: Invocation): Promise<number> {
  switch (invocation.action.name) {
    case 'up':
      return (await import('./serve-up.js')).up(invocation);
    case 'update':
      return (await import('./serve-up.js')).update(invocation);
    case 'status':
      return status(invocation.args, invocation.options);
    case 'down':
      return down(invocation.args, invocation.options);
    case 'logs':
      return logs(invocation.args, invocation.options);
    case 'token':
      return token(invocation.args, invocation.options);
    default:
      throw new UsageError(`unknown action '${invocation.action.name}' for sky serve`, 'sky serve --help');
  }
}

/** `sky serve status --endpoint NAME`: the endpoint alone, for scripts (`curl $(sky serve status --endpoint llm)/v1/models`). */
async function printEndpoint(client: SkyClient, name: string): Promise<number> {
  const { service } = await withServer(client, () => client.getService(name));
  if (service.endpoint === undefined) {
    note(`sky: service '${name}' has no endpoint yet (status ${service.status}); check it with: sky serve status ${name}`);
    return 1;
  }
  print(service.endpoint);
  return 0;
}

/** `sky serve status [-u] [--endpoint] [NAMES...]`: exits 1 when a name given has no service. */
async function status(names: readonly string[], options: CliOptions): Promise<number> {
  const help = 'sky serve status --help';
  checkServiceNames(names, help);
  const only = endpointQuery(names, options, help);
  const client = await connect();
  try {
    if (only !== undefined) return await printEndpoint(client, only);
    const { items } = await withServer(client, () => client.listServices({ all_users: options.allUsers === true ? true : undefined }));
    const wanted = names.length === 0 ? items : items.filter((s) => names.includes(s.name));
    const missing = names.filter((n) => !items.some((s) => s.name === n));
    print(serveStatusLines(wanted, { showUser: options.allUsers === true }).join('\n'));
    if (missing.length === 0) return 0;
    note(`sky: no service named ${missing.map((n) => `'${n}'`).join(', ')}${options.allUsers === true ? '' : ' among yours (-u shows every user\'s)'}`);
    return 1;
  } finally {
    client.close();
  }
}

/** `sky serve down NAMES... | -a [-u] [-y] [--purge]`: exits 1 when a name given has no service. */
async function down(names: readonly string[], options: CliOptions): Promise<number> {
  const help = 'sky serve down --help';
  const { body, what } = downSelection(names, options, help);
  const go = await confirmOrAbort({ question: `Tearing down ${what}. Proceed?`, yes: options.yes, action: `sky serve down would tear down ${what}`, help });
  if (!go) return 1;
  const client = await connect();
  try {
    const outcome = await runOperation(client, 'serve_down', body, { what: 'sky serve down' });
    if (!('result' in outcome)) return outcome.exitCode;
    const { down: gone, notFound } = outcome.result;
    if (gone.length > 0) print(`Service${gone.length === 1 ? '' : 's'} torn down: ${gone.join(', ')}`);
    else if (notFound.length === 0) print('No services to tear down.');
    if (notFound.length === 0) return 0;
    note(`sky: no service named ${notFound.map((n) => `'${n}'`).join(', ')}`);
    return 1;
  } finally {
    client.close();
  }
}

/** `sky serve logs NAME [REPLICA_ID] [--controller|--load-balancer] [--no-follow]`. */
async function logs(args: readonly string[], options: CliOptions): Promise<number> {
  const help = 'sky serve logs --help';
  const [name, replica] = args;
  checkServiceNames([name!], help);
  const target = logTarget(replica, options, help);
  const client = await connect();
  const controller = new AbortController();
  const detach = (): void => controller.abort();
  process.once('SIGINT', detach);
  try {
    const which = 'replicaId' in target ? `replica ${target.replicaId}` : 'controller' in target ? 'the controller' : 'the load balancer';
    note(`Tailing the log of ${which} of service '${name!}'...`);
    const ended = await withServer(client, () =>
      client.streamServiceLogs(name!, { ...target, follow: options.follow ?? true, signal: controller.signal }, (line) => {
        print(line.rank !== undefined && line.rank > 0 ? `(worker${line.rank}, rank=${line.rank}) ${line.text}` : line.text);
      }),
    );
    note(`Log ended (${'replicaId' in target ? 'replica' : 'service'} ${ended}).`);
    return 0;
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    note(`\nDetached; the service keeps running. Re-attach with: sky serve logs ${name!}${'replicaId' in target ? ` ${target.replicaId}` : 'controller' in target ? ' --controller' : ' --load-balancer'}`);
    return 130;
  } finally {
    process.off('SIGINT', detach);
    client.close();
  }
}

/** `sky serve token NAME [--off]`: a new bearer token for the endpoint (printed once, on standard output), or an open endpoint again. */
async function token(args: readonly string[], options: CliOptions): Promise<number> {
  const [name] = args;
  checkServiceNames([name!], 'sky serve token --help');
  const client = await connect();
  try {
    const result = await withServer(client, () => client.setServiceToken(name!, options.off !== true));
    if (result.token === undefined) {
      print(`Service ${result.name}: the endpoint is open (no token needed).`);
      return 0;
    }
    note(`Service ${result.name}: requests to its endpoint now need "Authorization: Bearer <token>"; any earlier token stopped working. The token is shown only now:`);
    print(result.token);
    return 0;
  } finally {
    client.close();
  }
}
