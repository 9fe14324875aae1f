// resources.cpus, resources.memory and resources.disk_size: `4`, `4+`, `"32+"`, `64GB`, `512MB+`.
import { describeValue, type Report } from './problems.js';
import type { Quantity } from './types.js';

const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const CPU_TEXT = new RegExp(`^${NUMBER}(\\+)?$`);
// Units as SkyPilot reads them (case-insensitive, powers of 2): B, K/KB, M/MB, G/GB (default), T/TB, P/PB.
const SIZE_TEXT = new RegExp(`^${NUMBER}([kmgtp]b?|b)?(\\+)?$`, 'i');
const UNIT_POWER: Record<string, number> = { b: 0, k: 1, m: 2, g: 3, t: 4, p: 5 };

interface Limits {
  min: number;
  max: number;
  minText: string;
  maxText: string;
}
// Bounded so every accepted value prints back as a plain decimal.
const CPU_LIMITS: Limits = { min: 0.001, max: 1_000_000, minText: '0.001', maxText: '1000000' };
const MEMORY_LIMITS: Limits = { min: 2 ** -10, max: 1_000_000_000, minText: '1MB', maxText: '1000000000GB' };
const DISK_MAX_GB = 1_000_000_000;

const CPU_EXPECTED = 'expected a CPU count like 4, or 4+ for at least 4';
const MEMORY_EXPECTED = 'expected a size in GB like 32, or 32+ for at least 32 (units allowed: 512MB, 1TB)';
const DISK_EXPECTED = 'expected a whole number of GB like 256, or a size with a unit like 256GB';

/** GB (2^30 bytes) in `amount` of `unit`; unit defaults to GB. */
function toGb(amount: number, unit: string | undefined): number {
  const power = UNIT_POWER[(unit ?? 'g').toLowerCase()[0]!]!;
  return amount * 2 ** (10 * (power - 3));
}

function inRange(amount: number, limits: Limits, report: Report, shown: string): boolean {
  if (!Number.isFinite(amount) || amount <= 0) {
    report(`must be greater than 0, got ${shown}`);
    return false;
  }
  if (amount < limits.min) {
    report(`must be at least ${limits.minText}, got ${shown}`);
    return false;
  }
  if (amount > limits.max) {
    report(`must be at most ${limits.maxText}, got ${shown}`);
    return false;
  }
  return true;
}

/** resources.cpus: a number, or a string `N` / `N+`. */
export function parseCpus(value: unknown, report: Report): Quantity | undefined {
  if (typeof value === 'number') {
    return inRange(value, CPU_LIMITS, report, String(value)) ? { min: value, orMore: false } : undefined;
  }
  if (typeof value !== 'string') {
    report(`${CPU_EXPECTED}, got ${describeValue(value)}`);
    return undefined;
  }
  const m = CPU_TEXT.exec(value.trim());
  if (m === null) {
    report(`${CPU_EXPECTED}, got ${describeValue(value)}`);
    return undefined;
  }
  const min = Number(m[1]);
  return inRange(min, CPU_LIMITS, report, describeValue(value)) ? { min, orMore: m[2] === '+' } : undefined;
}

/** resources.memory: GB as a number, or a string `N`, `N+`, `NGB`, `NMB+`… */
export function parseMemory(value: unknown, report: Report): Quantity | undefined {
  if (typeof value === 'number') {
    return inRange(value, MEMORY_LIMITS, report, String(value)) ? { min: value, orMore: false } : undefined;
  }
  if (typeof value !== 'string') {
    report(`${MEMORY_EXPECTED}, got ${describeValue(value)}`);
    return undefined;
  }
  const m = SIZE_TEXT.exec(value.trim());
  if (m === null) {
    report(`${MEMORY_EXPECTED}, got ${describeValue(value)}`);
    return undefined;
  }
  const min = toGb(Number(m[1]), m[2]);
  return inRange(min, MEMORY_LIMITS, report, describeValue(value)) ? { min, orMore: m[3] === '+' } : undefined;
}

/** resources.disk_size: whole GB, or a size with a unit rounded down to whole GB (as SkyPilot does). */
export function parseDiskSize(value: unknown, report: Report): number | undefined {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > DISK_MAX_GB) {
      report(`must be a whole number of GB from 1 to ${DISK_MAX_GB}, got ${value}`);
      return undefined;
    }
    return value;
  }
  const m = typeof value === 'string' ? SIZE_TEXT.exec(value.trim()) : null;
  if (m === null || m[3] === '+') {
    report(`${DISK_EXPECTED}, got ${describeValue(value)}`);
    return undefined;
  }
  const gb = Math.floor(toGb(Number(m[1]), m[2]));
  if (!Number.isFinite(gb) || gb < 1 || gb > DISK_MAX_GB) {
    report(gb < 1 ? `must be at least 1GB (sizes round down to whole GB), got ${describeValue(value)}` : `must be at most ${DISK_MAX_GB}GB, got ${describeValue(value)}`);
    return undefined;
  }
  return gb;
}

/** The YAML form of a quantity: `4`, `4+`, `0.5`. */
export function formatQuantity(q: Quantity): string {
  return `${q.min}${q.orMore ? '+' : ''}`;
}
