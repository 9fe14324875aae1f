import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { TOKENS, type Clock } from '../tokens.js';
import { AuditLog } from '../audit/audit-log.js';

const THROTTLE_MS = 60_000;
const MAX_KEYS = 1_000;

/** A refused credential or request, as the log and the audit log record it: never a secret, never a name the caller typed. */
export interface Refusal {
  /** Audit action, e.g. `auth.proxy`, `auth.local`, `auth.host`, `auth.csrf`. */
  action: string;
  /** Why, in a few words (also the throttling key with the action and the address). */
  reason: string;
  from: string | undefined;
  /** Who, when known (a session's user); anonymous otherwise. */
  user?: { id: string; name: string };
  /** What was refused (a host name, an origin), cut short. */
  target?: string;
}

/**
 * Records refusals that happen before anyone is authenticated (an untrusted proxy header, a
 * missing local token, a foreign Host or Origin) in the server log and the audit log, at most
 * once a minute per action, reason and address: a flood of bad requests cannot flood the
 * audit log. Recording never throws.
 */
@injectable()
export class Refusals {
  private readonly last = new Map<string, number>();

  constructor(
    @inject(AuditLog) private readonly audit: AuditLog,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  record(refusal: Refusal): void {
    const now = this.clock.now();
    const key = `${refusal.action}|${refusal.reason}|${refusal.from ?? '?'}|${refusal.user?.id ?? ''}`;
    const previous = this.last.get(key);
    if (previous !== undefined && now - previous < THROTTLE_MS) return;
    if (this.last.size >= MAX_KEYS) this.last.delete(this.last.keys().next().value!);
    this.last.delete(key);
    this.last.set(key, now);
    try {
      this.logger.warn({ action: refusal.action, reason: refusal.reason, from: refusal.from }, 'request refused');
    } catch {
      // logging must not turn a refusal into a failure
    }
    const user = refusal.user ?? { id: 'anonymous', name: 'anonymous' };
    const target = refusal.target === undefined ? undefined : printable(refusal.target);
    void this.audit.record({
      user: user.id,
      userName: user.name,
      action: refusal.action,
      result: 'DENIED',
      detail: `${refusal.reason}${refusal.from === undefined ? '' : ` (from ${refusal.from})`}`,
      ...(target === undefined ? {} : { target }),
    });
  }
}

/** At most 100 printable ASCII characters of an untrusted value. */
function printable(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}
