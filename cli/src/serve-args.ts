// The command-line arguments of `sky serve`, checked before anything is sent: pure, so the
// rules and their messages are tested without a server.
import type { ServeDownBody } from '@sky/protocol';
import { UsageError, type CliOptions } from './usage.js';

const SERVICE_NAME = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
const SERVICE_NAME_MAX = 50;

/** Why a service name is not one (the API's rule: replica clusters are named NAME-<id>), or undefined. */
export function serviceNameProblem(name: string): string | undefined {
  if (name.length > SERVICE_NAME_MAX) return `invalid service name '${name}': at most ${SERVICE_NAME_MAX} characters`;
  if (!SERVICE_NAME.test(name)) return `invalid service name '${name}': a lowercase letter first, then lowercase letters, digits and "-" (not at the end)`;
  return undefined;
}

export function checkServiceNames(names: readonly string[], help: string): void {
  for (const name of names) {
    const bad = serviceNameProblem(name);
    if (bad !== undefined) throw new UsageError(bad, help);
  }
}

/** What `sky serve down` was asked to tear down, as the body and in words. */
export function downSelection(names: readonly string[], options: CliOptions, help: string): { body: ServeDownBody; what: string } {
  checkServiceNames(names, help);
  if (names.length > 0 && options.all === true) throw new UsageError('give service names or -a, not both', help);
  if (names.length === 0 && options.all !== true) {
    throw new UsageError(options.allUsers === true ? '-u needs -a: sky serve down -a -u' : 'nothing to tear down: give service names or -a', help);
  }
  const purge = options.purge === true ? { purge: true } : {};
  if (names.length > 0) {
    if (options.allUsers === true) throw new UsageError('-u goes with -a, not with service names', help);
    const unique = [...new Set(names)];
    return { body: { service_names: unique, ...purge }, what: `service${unique.length === 1 ? '' : 's'} ${unique.join(', ')}` };
  }
  if (options.allUsers === true) return { body: { all: true, all_users: true, ...purge }, what: "all users' services" };
  return { body: { all: true, ...purge }, what: 'all your services' };
}

export type LogTarget = { replicaId: number } | { controller: true } | { loadBalancer: true };

/** Which log `sky serve logs NAME [REPLICA_ID] [--controller|--load-balancer]` streams: exactly one. */
export function logTarget(replica: string | undefined, options: CliOptions, help: string): LogTarget {
  const ways = [replica !== undefined ? 'REPLICA_ID' : undefined, options.controller === true ? '--controller' : undefined, options.loadBalancer === true ? '--load-balancer' : undefined].filter(
    (w): w is string => w !== undefined,
  );
  if (ways.length === 0) throw new UsageError('which log? give a REPLICA_ID, --controller or --load-balancer', help);
  if (ways.length > 1) throw new UsageError(`give one of REPLICA_ID, --controller or --load-balancer, not ${ways.join(' and ')}`, help);
  if (replica !== undefined) {
    if (!/^\d+$/.test(replica) || Number(replica) < 1 || !Number.isSafeInteger(Number(replica))) {
      throw new UsageError(`invalid replica ID '${replica}': IDs are positive integers (see sky serve status)`, help);
    }
    return { replicaId: Number(replica) };
  }
  return options.controller === true ? { controller: true } : { loadBalancer: true };
}

/** `sky serve status --endpoint` prints one service's endpoint: exactly one name, no -u. */
export function endpointQuery(names: readonly string[], options: CliOptions, help: string): string | undefined {
  if (options.serviceEndpoint !== true) return undefined;
  if (names.length !== 1) throw new UsageError(`--endpoint prints the endpoint of one service: sky serve status --endpoint NAME${names.length > 1 ? `, got ${names.length} names` : ''}`, help);
  return names[0];
}
