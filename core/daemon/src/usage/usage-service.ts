import { inject, injectable } from 'tsyringe';
import { parseUsageTime, SkyError, type UsageQuery, type UsageReport } from '@sky/protocol';
import type { StateStore } from '@sky/plugin-api';
import { AccessPolicy, type Actor } from '../auth/policy.js';
import { TOKENS, type Clock } from '../tokens.js';
import { UsageRecorder } from './usage-recorder.js';
import { usageReport } from './usage-report.js';

/**
 * Usage reports: a user sees their own usage (their clusters' intervals and the jobs they
 * submitted, in every workspace); with all_users an admin sees everyone's, and anyone else is
 * refused (403, audited). Workspace totals are over the users in the report, so a member never
 * learns of other users' usage through them.
 */
@injectable()
export class UsageService {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(UsageRecorder) private readonly recorder: UsageRecorder,
  ) {}

  async report(actor: Actor, query: UsageQuery): Promise<UsageReport> {
    const allUsers = query.all_users === true;
    if (allUsers && !this.policy.isAdmin(actor)) {
      throw await this.policy.refuse(actor, { action: 'usage.read' }, "every user's usage needs the admin role", 'Leave out -u (all_users) to see your own usage, or ask an admin.');
    }
    const usage = this.store.usage;
    if (usage === undefined) {
      throw new SkyError('NOT_SUPPORTED', `the ${this.store.kind} state store keeps no usage ledger (it implements plugin API 1.9 or older)`, {
        hint: 'Upgrade the store plugin to one built against plugin API 1.10 or newer.',
      });
    }
    const now = this.clock.now();
    const since = parseUsageTime(query.since) ?? 0;
    const until = query.until === undefined ? now : (parseUsageTime(query.until) ?? now);
    if (until < since) {
      throw new SkyError('VALIDATION_FAILED', `the usage window ends (${new Date(until).toISOString()}) before it starts (${new Date(since).toISOString()})`, {
        hint: 'Give --until a time after --since.',
        details: { field: 'until' },
      });
    }
    // Changes this process made just before the call are in the ledger once their writes are done.
    await this.recorder.settled();
    const entries = await usage.list(allUsers ? { since, until } : { since, until, user: actor.id });
    return usageReport(entries, { since, until, now, allUsers });
  }
}
