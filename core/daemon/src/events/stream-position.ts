/**
 * How far one stream got, for its keepalives: changes left out (not the caller's to see) still
 * move the client's position on. A keepalive then carries an `id:` line with no data, which
 * changes a browser's Last-Event-ID and dispatches nothing, so a client that reconnects after a
 * quiet hour neither replays nor resets for changes it was never going to get.
 */
export class StreamPosition {
  /** The last change the stream went past, sent or left out. */
  #seen: number;
  /** The last position the client was told (an event's `id:`). */
  #told: number;

  constructor(start: number | undefined) {
    this.#seen = start ?? 0;
    this.#told = start ?? 0;
  }

  /** The stream went past this change (whether or not it was sent). */
  passed(seq: number): void {
    if (seq > this.#seen) this.#seen = seq;
  }

  /** An event with this `id:` was sent. */
  told(seq: number): void {
    this.#told = seq;
    if (seq > this.#seen) this.#seen = seq;
  }

  /** The stream goes on from here (ready, reset): both positions are this one, even when it is lower. */
  restart(seq: number): void {
    this.#seen = seq;
    this.#told = seq;
  }

  /** The keepalive block: the comment, and the position when the client has not been told it yet. */
  keepalive(): string {
    if (this.#seen <= this.#told) return ': keepalive\n\n';
    this.#told = this.#seen;
    return `: keepalive\nid: ${this.#seen}\n\n`;
  }
}
