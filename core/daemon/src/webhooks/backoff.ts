/** Retries of one delivery: how many attempts in all, and the waits between them. */
export interface BackoffPolicy {
  /** Attempts in all (the first one included). */
  maxAttempts: number;
  /** The wait after the first failed attempt; it doubles after each further one. */
  baseMs: number;
  /** No wait is longer. */
  maxMs: number;
}

/**
 * The wait before attempt `attempt + 1` after `attempt` failed (1-based), or undefined when no
 * attempt is left: base, 2×base, 4×base, … capped at maxMs. No jitter: one leader delivers, in
 * order, so there is no herd to spread.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number): number | undefined {
  if (attempt >= policy.maxAttempts) return undefined;
  const exponent = Math.min(attempt - 1, 30);
  return Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
}

/** Whether an answer (or its absence) is worth another attempt: no answer, a 5xx, 408 or 429. Other statuses will not change. */
export function retryable(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 408 || status === 429;
}
