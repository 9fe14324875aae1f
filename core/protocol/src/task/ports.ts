// resources.ports: 8080, "8080", "8000-8010", or a list of those.
import { describeValue, type Report } from './problems.js';
import type { PortRange } from './types.js';

const EXPECTED = 'expected a port like 8080 or a range like 8000-8010';
const PORT_TEXT = /^(\d+)(?:-(\d+))?$/;

function portProblem(port: number): string | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : 'a port must be a whole number from 1 to 65535';
}

function parseOne(value: unknown, report: Report): PortRange | undefined {
  if (typeof value === 'number') {
    const bad = portProblem(value);
    if (bad !== undefined) {
      report(`${bad}, got ${value}`);
      return undefined;
    }
    return { from: value, to: value };
  }
  const m = typeof value === 'string' ? PORT_TEXT.exec(value.trim()) : null;
  if (m === null) {
    report(`${EXPECTED}, got ${describeValue(value)}`);
    return undefined;
  }
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  const bad = portProblem(from) ?? portProblem(to);
  if (bad !== undefined) {
    report(`${bad}, got ${describeValue(value)}`);
    return undefined;
  }
  if (from > to) {
    report(`range ${describeValue(value)} starts above its end`);
    return undefined;
  }
  return { from, to };
}

export function parsePorts(value: unknown, report: Report): PortRange[] | undefined {
  if (!Array.isArray(value)) {
    const one = parseOne(value, report);
    return one === undefined ? undefined : [one];
  }
  if (value.length === 0) {
    report(`${EXPECTED}, or a list of them, got an empty list`);
    return undefined;
  }
  const out: PortRange[] = [];
  let ok = true;
  value.forEach((item, i) => {
    const one = parseOne(item, (message) => report(message, [i]));
    if (one === undefined) ok = false;
    else out.push(one);
  });
  return ok ? out : undefined;
}

/** `8080` or `"8000-8010"`. */
export function formatPort(range: PortRange): number | string {
  return range.from === range.to ? range.from : `${range.from}-${range.to}`;
}
