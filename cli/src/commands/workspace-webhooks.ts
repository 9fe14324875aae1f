import type { SkyClient } from '@sky/client';
import type { CreateWebhookBody } from '@sky/protocol';
import { FEED_KINDS, type FeedKind } from '@sky/protocol/wire';
import { note, print, printJson } from '../output.js';
import { UsageError, type CliOptions } from '../usage.js';
import { deliveryTable, webhookTable } from '../webhook-format.js';

/** The body of webhook-add from its arguments; kinds are checked here so a typo is a usage error, not a 400. */
export function webhookBody(url: string, options: Pick<CliOptions, 'eventKind' | 'onStatus' | 'signingSecret'>): CreateWebhookBody {
  const kinds = options.eventKind?.map((k) => {
    if (!(FEED_KINDS as readonly string[]).includes(k)) throw new UsageError(`--kind ${k}: not a kind of change; one of ${FEED_KINDS.join(', ')}`, 'sky workspace webhook-add --help');
    return k as FeedKind;
  });
  const statuses = options.onStatus?.map((s) => s.toUpperCase());
  return { url, ...(kinds !== undefined ? { kinds } : {}), ...(statuses !== undefined ? { statuses } : {}), ...(options.signingSecret !== undefined ? { secret: options.signingSecret } : {}) };
}

/** `sky workspace webhooks|webhook-add|webhook-rm|webhook-log`: a workspace's webhooks (admins; the API refuses others). */
export async function webhooks(client: SkyClient, action: string, args: readonly string[], options: CliOptions): Promise<number> {
  const [workspace, second] = args as [string, string | undefined];
  switch (action) {
    case 'webhooks': {
      const { items } = await client.listWebhooks(workspace);
      if (options.output === 'json') printJson(items);
      else for (const line of webhookTable(items)) print(line);
      return 0;
    }
    case 'webhook-add': {
      const made = await client.createWebhook(workspace, webhookBody(second!, options));
      if (options.output === 'json') {
        printJson(made);
        return 0;
      }
      note(`Webhook ${made.id} of workspace ${made.workspace} sends to ${made.url}. Verify X-Sky-Signature (sha256=HMAC of the body) with this secret; it is shown only now:`);
      print(made.secret);
      return 0;
    }
    case 'webhook-rm': {
      const gone = await client.deleteWebhook(workspace, second!);
      print(`Removed webhook ${gone.id} (${gone.url}) of workspace ${gone.workspace}.`);
      return 0;
    }
    default: {
      const { items } = await client.webhookDeliveries(workspace, second!);
      if (options.output === 'json') printJson(items);
      else for (const line of deliveryTable(items)) print(line);
      return 0;
    }
  }
}
