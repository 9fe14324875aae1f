import type { z } from 'zod';
import { SkyError, type ErrorCode } from './wire/errors.js';

import { formatPath } from './wire/format-path.js';

export { formatPath };

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return issue.message;
}

export interface IssueLine {
  path: string;
  message: string;
}

/** Flatten zod issues to "where: what" lines, with unknown keys reported at their own path. */
export function issueLines(issues: readonly z.core.$ZodIssue[], prefix = ''): IssueLine[] {
  return issues.map((issue) => {
    const path = [prefix, formatPath(issue.path)].filter((p) => p.length > 0).join('.');
    return { path: path.length > 0 ? path : '(root)', message: describeIssue(issue) };
  });
}

/** Parse with a schema or throw a SkyError naming every offending field. */
export function parseOrThrow<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: string,
  code: ErrorCode = 'VALIDATION_FAILED',
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const lines = issueLines(result.error.issues, where);
  const text = lines.map((l) => `${l.path}: ${l.message}`).join('; ');
  throw new SkyError(code, `invalid ${where}: ${text}`, {
    hint: 'Fix the fields named above; the OpenAPI document at /api/v1/openapi.json lists every accepted field.',
    details: { issues: lines },
  });
}
