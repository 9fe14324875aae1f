// resources.job_recovery: how a managed job recovers (SkyPilot's field). Written as a strategy name,
// or as a mapping {strategy, max_restarts_on_errors, recover_on_exit_codes}.
import { describeValue, isPlainObject } from './problems.js';
import type { FieldCheck } from './fields.js';
import type { JobRecovery, RecoveryStrategy } from './types.js';

export const RECOVERY_STRATEGIES: readonly RecoveryStrategy[] = ['FAILOVER', 'EAGER_NEXT_REGION'];
const KEYS = ['strategy', 'max_restarts_on_errors', 'recover_on_exit_codes'];
/** Exit codes of a process run by a shell are 0-255. */
const MAX_EXIT_CODE = 255;
/** A bound on restarts a task file may ask for (SkyPilot sets none; a typo of 1e9 should not loop for ever). */
export const MAX_RESTARTS_ON_ERRORS = 1000;

function strategyOf(value: unknown, report: Parameters<FieldCheck<JobRecovery>>[1], path: Array<string | number>): RecoveryStrategy | null | undefined {
  if (value === null || value === undefined) return null;
  const text = typeof value === 'string' ? value.trim().toUpperCase() : undefined;
  if (text === 'NONE') return null;
  const found = RECOVERY_STRATEGIES.find((s) => s === text);
  if (found === undefined) {
    report(`expected a recovery strategy (${RECOVERY_STRATEGIES.join(', ')}, or none), got ${describeValue(value)}`, path);
    return undefined;
  }
  return found;
}

function exitCodes(value: unknown, report: Parameters<FieldCheck<JobRecovery>>[1]): number[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  const codes: number[] = [];
  for (const [i, code] of list.entries()) {
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > MAX_EXIT_CODE) {
      report(`expected an exit code (a whole number 0-${MAX_EXIT_CODE}) or a list of them, got ${describeValue(code)}`, Array.isArray(value) ? ['recover_on_exit_codes', i] : ['recover_on_exit_codes']);
      return undefined;
    }
    if (!codes.includes(code)) codes.push(code);
  }
  return codes;
}

export const checkJobRecovery: FieldCheck<JobRecovery> = (value, report) => {
  if (!isPlainObject(value)) {
    const strategy = strategyOf(value, report, []);
    return strategy === undefined ? undefined : { strategy, maxRestartsOnErrors: 0, recoverOnExitCodes: [] };
  }
  let ok = true;
  for (const key of Object.keys(value)) {
    if (!KEYS.includes(key)) {
      report(`unknown field; resources.job_recovery takes ${KEYS.join(', ')}`, [key], { at: 'key' });
      ok = false;
    }
  }
  const strategy = strategyOf(value.strategy, report, ['strategy']);
  const restarts = value.max_restarts_on_errors ?? 0;
  if (typeof restarts !== 'number' || !Number.isInteger(restarts) || restarts < 0 || restarts > MAX_RESTARTS_ON_ERRORS) {
    report(`expected a whole number of restarts from 0 to ${MAX_RESTARTS_ON_ERRORS}, got ${describeValue(restarts)}`, ['max_restarts_on_errors']);
    ok = false;
  }
  const codes = value.recover_on_exit_codes === undefined ? [] : exitCodes(value.recover_on_exit_codes, report);
  if (strategy === undefined || codes === undefined || !ok) return undefined;
  return { strategy, maxRestartsOnErrors: restarts as number, recoverOnExitCodes: codes };
};
