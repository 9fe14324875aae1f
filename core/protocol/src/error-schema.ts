import { z } from 'zod';
import type { ErrorBody, ErrorInfo } from './wire/errors.js';

export const ErrorInfoSchema = z.object({
  code: z.string().describe('A stable code from the error catalogue.'),
  message: z.string(),
  hint: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
}) satisfies z.ZodType<ErrorInfo>;
export const ErrorBodySchema = z.object({ error: ErrorInfoSchema }).meta({ id: 'Error' }) satisfies z.ZodType<ErrorBody>;
