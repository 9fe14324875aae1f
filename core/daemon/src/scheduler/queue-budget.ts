import { SkyError } from '@sky/protocol';

export interface QueueLimits {
  /** Most requests waiting (PENDING, not yet dispatched) in the daemon at once. */
  max_queued: number;
  /** Most of them from one user. */
  max_queued_per_user: number;
  /** Most bytes of request bodies (as JSON) waiting at once. */
  max_queued_body_bytes: number;
}

interface Held {
  user: string;
  bytes: number;
}

/**
 * What the requests waiting to be dispatched may hold on the daemon's heap. A waiting request
 * lives in memory (its lane and the store's cache of unfinished requests) until a worker takes
 * it, so without a bound a client submitting faster than the workers finish — or long requests
 * from many clients — would grow the heap until the daemon died of it. A submit that would go
 * over a limit is refused with QUEUE_FULL before anything is stored; one user alone cannot use
 * up the whole queue.
 */
export class QueueBudget {
  private readonly held = new Map<string, Held>();
  private readonly perUser = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly limits: QueueLimits) {}

  /** Reserve room for request `id` of `user` with a body of `bodyBytes`, or throw QUEUE_FULL. */
  reserve(id: string, user: string, userName: string, bodyBytes: number): void {
    const mine = this.perUser.get(user) ?? 0;
    const { max_queued, max_queued_per_user, max_queued_body_bytes } = this.limits;
    let why: string | undefined;
    if (mine >= max_queued_per_user) why = `${userName} already has ${mine} requests waiting (at most ${max_queued_per_user} per user)`;
    else if (this.held.size >= max_queued) why = `${this.held.size} requests are already waiting (at most ${max_queued})`;
    else if (this.bytes + bodyBytes > max_queued_body_bytes && this.held.size > 0) {
      why = `the requests waiting already hold ${this.bytes} bytes of bodies (at most ${max_queued_body_bytes})`;
    }
    if (why !== undefined) {
      throw new SkyError('QUEUE_FULL', `the API server's request queue is full: ${why}`, {
        hint: 'Retry in a few seconds, once queued requests have started; the limits are requests.max_queued, max_queued_per_user and max_queued_body_bytes in the daemon config.',
        details: { retryAfterSeconds: 2 },
      });
    }
    this.held.set(id, { user, bytes: bodyBytes });
    this.perUser.set(user, mine + 1);
    this.bytes += bodyBytes;
  }

  /** Request `id` left the queue (dispatched, or not stored after all); a no-op for one never reserved. */
  release(id: string): void {
    const held = this.held.get(id);
    if (held === undefined) return;
    this.held.delete(id);
    this.bytes -= held.bytes;
    const left = (this.perUser.get(held.user) ?? 1) - 1;
    if (left <= 0) this.perUser.delete(held.user);
    else this.perUser.set(held.user, left);
  }

  /** Requests holding a reservation now, and their body bytes. */
  usage(): { requests: number; users: number; bodyBytes: number } {
    return { requests: this.held.size, users: this.perUser.size, bodyBytes: this.bytes };
  }
}
