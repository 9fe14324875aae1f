import { z } from 'zod';
import { LaneSchema } from './requests.js';
import type { Lane } from './wire/status.js';

/**
 * Operations a client submits as asynchronous requests. Each has a body schema and a
 * result schema; the daemon's route table and the OpenAPI document are derived from here.
 */
export const PingBodySchema = z
  .strictObject({
    sleep: z.number().min(0).max(3600).optional().describe('Seconds to sleep, logging once a second.'),
    lane: LaneSchema.optional().describe('Lane to run in; default short.'),
    fail: z.string().min(1).max(500).optional().describe('Fail with this message after sleeping.'),
  })
  .meta({ id: 'PingBody' });
export type PingBody = z.infer<typeof PingBodySchema>;

export const PingResultSchema = z
  .object({ pong: z.literal(true), sleptMs: z.number(), daemonPid: z.number().int() })
  .meta({ id: 'PingResult' });
export type PingResult = z.infer<typeof PingResultSchema>;

export interface OperationSpec<B extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly summary: string;
  readonly body: B;
  readonly result: R;
  /** Lane when the body does not choose one. */
  readonly defaultLane: Lane;
  /** Whether it changes state (and so takes --async in the CLI and is audited). */
  readonly mutating: boolean;
}

function op<B extends z.ZodType, R extends z.ZodType>(spec: OperationSpec<B, R>): OperationSpec<B, R> {
  return spec;
}

export const OPERATIONS = {
  ping: op({
    name: 'ping',
    summary: 'Diagnostic request: sleeps, logs, and answers pong (or fails on demand).',
    body: PingBodySchema,
    result: PingResultSchema,
    defaultLane: 'short',
    mutating: false,
  }),
} as const;

export type OperationName = keyof typeof OPERATIONS;
export type OperationBody<N extends OperationName> = z.infer<(typeof OPERATIONS)[N]['body']>;
export type OperationResult<N extends OperationName> = z.infer<(typeof OPERATIONS)[N]['result']>;
export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];
