// SkyPilot task fields whose meaning is not "run this here": some are ignored by `sky launch`
// with a warning (as SkyPilot's own launch does), others are read into the task so a driver can
// honour, ignore or refuse them (see driver-fields.ts).
import { text, type FieldCheck } from './fields.js';
import { describeValue, isPlainObject } from './problems.js';
import type { TaskAutostop } from './types.js';

/** Fields accepted and ignored by sky launch, each with the warning printed for it. */
export const IGNORED_FIELDS = {
  service: 'ignored by sky launch; a service is started with sky serve up',
  pool: 'ignored by sky launch; a pool is made with sky jobs pool apply',
  inputs: "ignored; SkyPilot uses it only to estimate data egress cost, and sky has no cost optimizer",
  outputs: "ignored; SkyPilot uses it only to estimate data egress cost, and sky has no cost optimizer",
  'resources.priority': 'ignored by sky launch; SkyPilot uses it to order managed jobs (sky jobs launch)',
} as const;

export type IgnoredField = keyof typeof IGNORED_FIELDS;

/** `service: ignored by sky launch; …`. */
export function ignoredMessage(field: IgnoredField, shownPath: string = field): string {
  return `${shownPath}: ${IGNORED_FIELDS[field]}`;
}

/** Any value: read only to say it is ignored. */
export const anyValue: FieldCheck<unknown> = (value) => value ?? null;

/** inputs / outputs: SkyPilot takes one `path: size-in-GB` entry. */
export const checkDataEstimate: FieldCheck<unknown> = (value, report) => {
  if (!isPlainObject(value) || Object.keys(value).length > 1 || Object.values(value).some((v) => typeof v !== 'number')) {
    report(`expected one entry of path: estimated size in GB, got ${describeValue(value)}`);
    return undefined;
  }
  return value;
};

/** resources.priority: a whole number from -1000 to 1000 (SkyPilot's range). */
export const checkPriority: FieldCheck<number> = (value, report) => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= -1000 && value <= 1000) return value;
  report(`expected a whole number from -1000 to 1000, got ${describeValue(value)}`);
  return undefined;
};

const TIME = /^\s*(\d+)\s*([smhd]?)\s*$/i;
const MINUTES: Record<string, number> = { '': 1, s: 1 / 60, m: 1, h: 60, d: 24 * 60 };
/** SkyPilot's default idle time for `autostop: true`. */
export const DEFAULT_AUTOSTOP_MINUTES = 5;
const AUTOSTOP_KEYS = ['idle_minutes', 'down'];

function idleMinutes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const m = typeof value === 'string' ? TIME.exec(value) : null;
  if (m === null) return undefined;
  return Math.ceil(Number(m[1]) * MINUTES[m[2]!.toLowerCase()]!);
}

/** resources.autostop: true, false, minutes (`10`, `"30m"`, `"2h"`), or { idle_minutes, down }. */
export const checkAutostop: FieldCheck<TaskAutostop | false> = (value, report) => {
  if (value === false) return false;
  if (value === true) return { idleMinutes: DEFAULT_AUTOSTOP_MINUTES, down: false };
  if (!isPlainObject(value)) {
    const minutes = idleMinutes(value);
    if (minutes !== undefined) return { idleMinutes: minutes, down: false };
    report(`expected true, false, idle minutes (10, "30m", "2h") or a mapping with idle_minutes and down, got ${describeValue(value)}`);
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(value)) {
    if (key === 'wait_for' || key === 'hook' || key === 'hook_timeout') {
      report(`not supported yet: resources.autostop.${key} (sky's autostop waits for jobs to finish and runs no hook)`, [key], { at: 'key' });
      ok = false;
    } else if (!AUTOSTOP_KEYS.includes(key)) {
      report(`unknown field; resources.autostop takes ${AUTOSTOP_KEYS.join(', ')}`, [key], { at: 'key' });
      ok = false;
    }
  }
  const minutes = value.idle_minutes === undefined ? DEFAULT_AUTOSTOP_MINUTES : idleMinutes(value.idle_minutes);
  if (minutes === undefined || typeof value.idle_minutes === 'string') {
    report(`expected a whole number of minutes, got ${describeValue(value.idle_minutes)}`, ['idle_minutes']);
    ok = false;
  }
  if (value.down !== undefined && typeof value.down !== 'boolean') {
    report(`expected true or false, got ${describeValue(value.down)}`, ['down']);
    ok = false;
  }
  return ok ? { idleMinutes: minutes!, down: value.down === true } : undefined;
};

const ACCELERATOR_ARG_KEYS = ['runtime_version', 'tpu_name', 'tpu_vm', 'gcp_queued_resource'];

/** resources.accelerator_args: SkyPilot's TPU arguments. */
export const checkAcceleratorArgs: FieldCheck<Record<string, string | boolean>> = (value, report) => {
  if (!isPlainObject(value)) {
    report(`expected a mapping of TPU arguments (${ACCELERATOR_ARG_KEYS.join(', ')}), got ${describeValue(value)}`);
    return undefined;
  }
  const out: Array<[string, string | boolean]> = [];
  let ok = true;
  for (const [key, v] of Object.entries(value)) {
    if (!ACCELERATOR_ARG_KEYS.includes(key)) {
      report(`unknown field; accelerator_args takes ${ACCELERATOR_ARG_KEYS.join(', ')}`, [key], { at: 'key' });
      ok = false;
    } else if (typeof v === 'string' || typeof v === 'boolean') out.push([key, v]);
    else {
      report(`expected a string or true/false, got ${describeValue(v)}`, [key]);
      ok = false;
    }
  }
  return ok ? Object.fromEntries(out) : undefined;
};

export const checkTier = (what: string): FieldCheck<string> => text(`a ${what} tier name like best`);
