// The adapter between Temporal and the activities (not compiled in this repository: it needs
// @temporalio/activity, which a worker project installs). Temporal's activity Context already
// has heartbeat(details) and cancellationSignal with the shapes ActivityContext asks for, so the
// Context of the activity being run is the ActivityContext itself.
import { Context } from '@temporalio/activity';
import type { ContextSource } from 'sky-temporal-activities';

export const temporalContext: ContextSource = () => Context.current();
