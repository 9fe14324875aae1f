// resources.accelerators in every form SkyPilot documents:
//   H100:8   H100 (count 1)   {A100: 1}   [V100, A100:2] (ordered)   {A100:1, H100:1} (a set)
// normalized to a list of { name, count } alternatives.
import { describeValue, isPlainObject, type Report } from './problems.js';
import type { Accelerator } from './types.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COUNT = /^(\d+(?:\.\d+)?|\.\d+)$/;
const MIN_COUNT = 0.001;
const MAX_COUNT = 1024;
const EXPECTED = 'expected an accelerator like H100:8, H100, {A100: 1} or a list of alternatives';

/** A count: whole numbers, or a fraction of one device below 1. Returns a reason when invalid. */
function countProblem(count: number): string | undefined {
  if (!Number.isFinite(count) || count <= 0) return 'count must be greater than 0';
  if (count < MIN_COUNT) return `count must be at least ${MIN_COUNT}`;
  if (count > MAX_COUNT) return `count must be at most ${MAX_COUNT}`;
  if (count > 1 && !Number.isInteger(count)) return 'count must be a whole number (fractions only below 1)';
  return undefined;
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "missing the accelerator name before ':'";
  if (!NAME.test(name) || name.length > 64) return `${JSON.stringify(name)} is not an accelerator name (letters, digits, '.', '_' and '-')`;
  return undefined;
}

/** `H100:8` or `H100`; `count` is a value given separately (the `{H100: 8}` form). */
function parseOne(text: string, separateCount: unknown, report: Report): Accelerator | undefined {
  const spec = text.trim();
  const shown = JSON.stringify(spec);
  if (spec.length === 0) {
    report(`${EXPECTED}, got ""`);
    return undefined;
  }
  const parts = spec.split(':');
  if (parts.length > 2) {
    report(`${shown}: expected NAME or NAME:COUNT`);
    return undefined;
  }
  const name = parts[0]!;
  const badName = nameProblem(name);
  if (badName !== undefined) {
    report(`${shown}: ${badName}`);
    return undefined;
  }
  let count = 1;
  if (parts.length === 2) {
    if (separateCount !== undefined && separateCount !== null) {
      report(`${shown}: the count is given twice (in the name and as the value)`);
      return undefined;
    }
    const countText = parts[1]!;
    if (countText.length === 0) {
      report(`${shown}: missing the count after ':'`);
      return undefined;
    }
    if (!COUNT.test(countText)) {
      report(`${shown}: count ${JSON.stringify(countText)} is not a number`);
      return undefined;
    }
    count = Number(countText);
  } else if (separateCount !== undefined && separateCount !== null) {
    if (typeof separateCount !== 'number') {
      report(`${shown}: expected a count, got ${describeValue(separateCount)}`);
      return undefined;
    }
    count = separateCount;
  }
  const badCount = countProblem(count);
  if (badCount !== undefined) {
    report(`${shown}: ${badCount}, got ${count}`);
    return undefined;
  }
  return { name, count };
}

function noDuplicates(list: Accelerator[], report: Report, pathOf: (i: number) => Array<string | number>): boolean {
  const seen = new Set<string>();
  let ok = true;
  list.forEach((acc, i) => {
    const key = `${acc.name.toLowerCase()}:${acc.count}`;
    if (seen.has(key)) {
      report(`${acc.name}:${acc.count} is listed twice`, pathOf(i));
      ok = false;
    }
    seen.add(key);
  });
  return ok;
}

/** Parse any accepted accelerators value into its alternatives. */
export function parseAccelerators(value: unknown, report: Report): Accelerator[] | undefined {
  if (typeof value === 'string') {
    const one = parseOne(value, undefined, report);
    return one === undefined ? undefined : [one];
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      report(`${EXPECTED}, got an empty list`);
      return undefined;
    }
    const out: Accelerator[] = [];
    let ok = true;
    value.forEach((item, i) => {
      if (typeof item !== 'string') {
        report(`expected an accelerator like H100:8, got ${describeValue(item)}`, [i]);
        ok = false;
        return;
      }
      const one = parseOne(item, undefined, (message) => report(message, [i]));
      if (one === undefined) ok = false;
      else out.push(one);
    });
    return ok && noDuplicates(out, report, (i) => [i]) ? out : undefined;
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) {
      report(`${EXPECTED}, got an empty mapping`);
      return undefined;
    }
    const out: Accelerator[] = [];
    let ok = true;
    for (const [key, count] of entries) {
      const one = parseOne(key, count, (message) => report(message, [key]));
      if (one === undefined) ok = false;
      else out.push(one);
    }
    return ok && noDuplicates(out, report, (i) => [entries[i]![0]]) ? out : undefined;
  }
  report(`${EXPECTED}, got ${describeValue(value)}`);
  return undefined;
}

/** `H100:8` — the form SkyPilot prints and parses. */
export function formatAccelerator(acc: Accelerator): string {
  return `${acc.name}:${acc.count}`;
}
