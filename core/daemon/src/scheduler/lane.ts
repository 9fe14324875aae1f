import type { Lane, RequestRecord } from '@sky/protocol';

/** One lane's FIFO of PENDING requests and its set of running ones, with a concurrency limit. */
export class LaneQueue {
  private items: RequestRecord[] = [];
  private head = 0;
  running = 0;

  constructor(
    readonly name: Lane,
    readonly limit: number,
  ) {}

  push(record: RequestRecord): void {
    this.items.push(record);
  }

  /** Next request if a slot is free, reserving the slot. */
  take(): RequestRecord | undefined {
    if (this.running >= this.limit || this.head >= this.items.length) return undefined;
    const record = this.items[this.head]!;
    this.items[this.head] = undefined as unknown as RequestRecord;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.running += 1;
    return record;
  }

  release(): void {
    this.running -= 1;
  }

  get queued(): number {
    return this.items.length - this.head;
  }
}
