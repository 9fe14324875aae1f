import type { PluginContext } from '@sky/plugin-api';
import { HELPER_PROTOCOL_VERSION } from '@sky/protocol';
import { SkyError } from '@sky/protocol/wire';
import type { AccountsConfig, LocalDriverConfig } from './config.js';
import type { AccountNodes } from './driver.js';

function invalid(message: string, hint: string): SkyError {
  return new SkyError('CONFIG_INVALID', message, { hint });
}

/**
 * On a team server the local driver would run every member's jobs on the daemon's machine: it
 * refuses to start unless `accounts:` says under which OS accounts.
 */
export function requireAccountsWhenShared(ctx: Pick<PluginContext<LocalDriverConfig>, 'multiUser' | 'config'>): void {
  if (ctx.multiUser !== true || ctx.config.accounts !== undefined) return;
  throw invalid(
    'the local driver runs jobs on the API server\'s own machine, and this server is shared by a team (auth basic, token or proxy): ' +
      'without an accounts: block every member\'s jobs would run as the daemon\'s account, with its files, secrets and process in reach',
    'Either give drivers.local an accounts: block (map: {alice: alice-os} and/or create: true with prefix: sky-) and run sky-node-helper as root ' +
      '(node_helper.socket in the daemon config), so each user\'s jobs run as their own OS account; or remove drivers.local and use another driver (e.g. ssh). ' +
      'See plugins/driver-local/README.md.',
  );
}

function allowedByHelper(name: string, helper: { names: string[]; prefixes: string[] }): boolean {
  return helper.names.includes(name) || helper.prefixes.some((p) => name.startsWith(p) && name.length > p.length);
}

/** Check sky-node-helper is there and allows the accounts this config maps to; resolves with how to reach account nodes. */
export async function connectAccounts(ctx: Pick<PluginContext<LocalDriverConfig>, 'nodeHelper'>, config: AccountsConfig): Promise<AccountNodes> {
  const helper = ctx.nodeHelper;
  if (helper === undefined) {
    throw invalid(
      'drivers.local.accounts needs sky-node-helper, the root helper that runs jobs as other accounts, but node_helper.socket is not set in the daemon config',
      'Start sky-node-helper as root and set node_helper.socket to its socket (see plugins/driver-local/README.md).',
    );
  }
  let hello;
  try {
    hello = await helper.hello();
  } catch (err) {
    throw invalid(
      `drivers.local.accounts: cannot reach sky-node-helper at ${helper.socketPath}: ${err instanceof Error ? err.message : String(err)}`,
      'Start sky-node-helper as root before the daemon (e.g. its systemd unit), with socket_owner set to the account the daemon runs as.',
    );
  }
  if (hello.protocol !== HELPER_PROTOCOL_VERSION) {
    throw invalid(`sky-node-helper ${hello.version} speaks protocol ${hello.protocol}, this daemon ${HELPER_PROTOCOL_VERSION}`, 'Run the helper and the daemon from the same sky version.');
  }
  const refused = Object.entries(config.map).filter(([, account]) => !allowedByHelper(account, hello.accounts));
  const allowed = [...hello.accounts.names, ...hello.accounts.prefixes.map((p) => `${p}*`)].join(', ') || 'none';
  if (refused.length > 0) {
    throw invalid(
      `drivers.local.accounts.map names accounts sky-node-helper does not allow: ${refused.map(([user, account]) => `${user}: ${account}`).join(', ')} (the helper allows ${allowed})`,
      'Allow them in the helper config (accounts.names or accounts.prefix), or map the users to allowed accounts.',
    );
  }
  if (config.create) {
    if (!hello.canCreate) {
      throw invalid('drivers.local.accounts.create is true, but sky-node-helper may not create accounts', 'Set create_accounts: true in the helper config, or create the accounts and map them.');
    }
    if (!hello.accounts.prefixes.some((p) => config.prefix!.startsWith(p))) {
      throw invalid(
        `drivers.local.accounts.prefix ${JSON.stringify(config.prefix)} is not within the helper's allowed prefixes (${allowed})`,
        'Use the prefix the helper allows (accounts.prefix in its config).',
      );
    }
  }
  return { config, helper, nodeRoot: hello.nodeRoot };
}
