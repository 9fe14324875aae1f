import type { SkyClient } from '@sky/client';
import { confirmOrAbort } from '../confirm.js';
import { connect } from '../context.js';
import { print, printJson } from '../output.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';
import { createBody, updateBody, workspaceTable } from '../workspace-format.js';

/** `sky workspace list|create|update|delete|webhooks|webhook-add|webhook-rm|webhook-log`: never starts a server (workspaces live on a team server). */
export async function run({ action, args, options }: Invocation): Promise<number> {
  const client = await connect();
  try {
    switch (action.name) {
      case 'list':
        return await list(client, options);
      case 'create': {
        const ws = await client.createWorkspace(createBody(args[0]!, options));
        print(`Created workspace ${ws.name}${describe(ws)}.`);
        return 0;
      }
      case 'update': {
        const ws = await client.updateWorkspace(args[0]!, updateBody(options));
        print(`Updated workspace ${ws.name}${describe(ws)}.`);
        return 0;
      }
      case 'delete':
        return await remove(client, args[0]!, options);
      case 'webhooks':
      case 'webhook-add':
      case 'webhook-rm':
      case 'webhook-log':
        return await (await import('./workspace-webhooks.js')).webhooks(client, action.name, args, options);
      default:
        throw new UsageError(`unknown action '${action.name}' for sky workspace`, 'sky workspace --help');
    }
  } finally {
    client.close();
  }
}

function describe(ws: { private: boolean; allowedUserNames: string[]; allowedInfra?: string[] }): string {
  const who = ws.private ? `private to ${ws.allowedUserNames.length > 0 ? ws.allowedUserNames.join(', ') : 'admins'}` : 'open to everyone';
  const infra = ws.allowedInfra !== undefined && ws.allowedInfra.length > 0 ? `, infra ${ws.allowedInfra.join(', ')}` : ', any infra';
  return ` (${who}${infra})`;
}

async function list(client: SkyClient, options: CliOptions): Promise<number> {
  const workspaces = await client.listWorkspaces();
  if (options.output === 'json') printJson(workspaces);
  else for (const line of workspaceTable(workspaces)) print(line);
  return 0;
}

async function remove(client: SkyClient, name: string, options: CliOptions): Promise<number> {
  const go = await confirmOrAbort({
    question: `Delete workspace ${name}?`,
    yes: options.yes,
    action: `sky workspace delete would delete workspace ${name}`,
    help: 'sky workspace delete --help',
  });
  if (!go) return 1;
  const ws = await client.deleteWorkspace(name);
  print(`Deleted workspace ${ws.name}.`);
  return 0;
}
