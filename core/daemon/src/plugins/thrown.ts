/** A readable one-line description of anything that was thrown, including non-Error values. Never throws. */
export function describeThrown(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return thrown.message.length > 0 ? thrown.message : thrown.name;
    if (typeof thrown === 'string') return thrown;
    if (thrown === undefined || thrown === null) return `a bare ${String(thrown)}`;
    if (typeof thrown === 'object') {
      const message: unknown = (thrown as { message?: unknown }).message;
      if (typeof message === 'string') return message;
      return `a non-Error value ${JSON.stringify(thrown) ?? String(thrown)}`;
    }
    return `a non-Error value ${String(thrown)}`;
  } catch {
    return 'a value that cannot be described';
  }
}
