/**
 * What the activities need of Temporal's activity Context, and nothing more: they import no
 * @temporalio package, so they run (and are tested) without a Temporal server. Temporal's
 * `Context.current()` has both members with these shapes, so it is an ActivityContext as is
 * (see worker/temporal-context.ts).
 */
export interface ActivityContext {
  /** Tell Temporal the activity is alive; Temporal delivers cancellation only on a heartbeat. */
  heartbeat(details?: unknown): void;
  /** Aborted when Temporal cancels the activity (or its heartbeat times out). */
  cancellationSignal: AbortSignal;
}

/** Where each activity finds the context of the call it serves (Temporal: `() => Context.current()`). */
export type ContextSource = () => ActivityContext;
