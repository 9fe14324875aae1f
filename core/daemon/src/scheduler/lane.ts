import type { Lane, RequestRecord } from '@sky/protocol';

/** One user's queued requests in a lane, and how many of theirs run there now. */
class UserLine {
  items: RequestRecord[] = [];
  head = 0;
  running = 0;
  /** In the lane's rotation (it has queued requests). */
  rotating = false;

  constructor(public cap: number) {}

  get queued(): number {
    return this.items.length - this.head;
  }

  shift(): RequestRecord {
    const record = this.items[this.head]!;
    this.items[this.head] = undefined as unknown as RequestRecord;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return record;
  }
}

/**
 * One lane's PENDING requests and its running ones, with a concurrency limit, made fair across
 * users: each user has their own FIFO and a cap on how many of their requests run at once
 * (admins have their own cap), and free slots go round-robin to the users with queued work, so
 * no user can occupy a lane. Within one user, requests start in the order they were queued.
 */
export class LaneQueue {
  private readonly users = new Map<string, UserLine>();
  /** Users with queued requests, in turn order. */
  private readonly rotation: string[] = [];
  private next = 0;
  private waiting = 0;
  running = 0;

  constructor(
    readonly name: Lane,
    readonly limit: number,
  ) {}

  /** Queue a request; `cap` is the most of this user's requests that may run in the lane at once. */
  push(record: RequestRecord, cap: number): void {
    let line = this.users.get(record.user);
    if (!line) this.users.set(record.user, (line = new UserLine(cap)));
    line.cap = cap;
    line.items.push(record);
    this.waiting += 1;
    if (!line.rotating) {
      line.rotating = true;
      this.rotation.push(record.user);
    }
  }

  /** The next request if a slot is free: the next user in turn who is under their cap, reserving the slot. */
  take(): RequestRecord | undefined {
    if (this.running >= this.limit) return undefined;
    for (let seen = 0, n = this.rotation.length; seen < n && this.rotation.length > 0; seen++) {
      if (this.next >= this.rotation.length) this.next = 0;
      const user = this.rotation[this.next]!;
      const line = this.users.get(user)!;
      if (line.running >= line.cap) {
        this.next += 1;
        continue;
      }
      const record = line.shift();
      line.running += 1;
      this.running += 1;
      this.waiting -= 1;
      if (line.queued === 0) {
        line.rotating = false;
        this.rotation.splice(this.next, 1); // the next user moves into this position
      } else this.next += 1;
      return record;
    }
    return undefined;
  }

  /** A request of `user` stopped running in this lane. */
  release(user: string): void {
    this.running -= 1;
    const line = this.users.get(user);
    if (!line) return;
    line.running -= 1;
    if (line.running <= 0 && line.queued === 0) this.users.delete(user);
  }

  get queued(): number {
    return this.waiting;
  }

  /** How many of one user's requests run in this lane now. */
  runningOf(user: string): number {
    return this.users.get(user)?.running ?? 0;
  }
}
