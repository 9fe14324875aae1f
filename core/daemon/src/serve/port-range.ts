import { SkyError } from '@sky/protocol';

const SPEC = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/**
 * The ports the daemon may give services' load balancers (`serve.ports`): "30001-30100", or a
 * single port "30001". Each service keeps its port in its record, so a port is picked once,
 * when the service is created, and `pick` only needs to know which ones records already hold.
 */
export class PortRange {
  readonly first: number;
  readonly last: number;

  constructor(spec: string) {
    const match = SPEC.exec(spec.trim());
    const example = 'e.g. "30001-30100" (first-last, both included) or "30001"';
    if (!match) {
      throw new SkyError('CONFIG_INVALID', `serve.ports "${spec}" is not a port range, ${example}`, {
        hint: 'Write serve.ports as two port numbers joined by "-", without spaces or lists.',
      });
    }
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    for (const port of [first, last]) {
      if (port < 1 || port > 65535) {
        throw new SkyError('CONFIG_INVALID', `serve.ports "${spec}": ${port} is not a TCP port (1-65535)`, {
          hint: `Choose ports between 1 and 65535, ${example}.`,
        });
      }
    }
    if (last < first) {
      throw new SkyError('CONFIG_INVALID', `serve.ports "${spec}" ends (${last}) before it starts (${first})`, {
        hint: `Write the lower port first, e.g. "${last}-${first}".`,
      });
    }
    this.first = first;
    this.last = last;
  }

  get size(): number {
    return this.last - this.first + 1;
  }

  has(port: number): boolean {
    return Number.isInteger(port) && port >= this.first && port <= this.last;
  }

  /** The lowest port of the range not in `taken`; ports of the same services stay stable and predictable. */
  pick(taken: ReadonlySet<number>): number {
    for (let port = this.first; port <= this.last; port++) {
      if (!taken.has(port)) return port;
    }
    throw new SkyError('PORT_IN_USE', `every port of serve.ports ${this.toString()} (${this.size}) is held by a service`, {
      hint: 'Take down a service you no longer need (sky serve down NAME) or widen serve.ports in the daemon config.',
      details: { ports: this.toString() },
    });
  }

  toString(): string {
    return this.first === this.last ? String(this.first) : `${this.first}-${this.last}`;
  }
}
