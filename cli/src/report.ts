import { knownSecrets, note } from './output.js';
import { UsageError } from './usage.js';

interface Reportable {
  message: string;
  code?: unknown;
  hint?: unknown;
  name?: unknown;
  stack?: string;
}

/** Print an error the way every sky command does (`sky: <message>` and `  hint: <hint>`) and pick the exit code. */
export async function report(err: unknown, helpCommand: string): Promise<number> {
  const { maskSecrets } = await import('@sky/client');
  const mask = (text: string): string => maskSecrets(text, { secrets: knownSecrets() });
  const e: Reportable = err instanceof Error ? err : { message: String(err) };
  if (err instanceof UsageError) {
    note(mask(`sky: ${e.message}. Run '${err.helpCommand}'.`));
    return 2;
  }
  if (e.name === 'CACError') {
    // cac's wording ("Unknown option `--foo`") in ours.
    const message = e.message.replace(/`/g, '').replace(/^./, (c) => c.toLowerCase());
    note(mask(`sky: ${message}. Run '${helpCommand}'.`));
    return 2;
  }
  note(mask(`sky: ${e.message}`));
  if (typeof e.hint === 'string') note(mask(`  hint: ${e.hint}`));
  if (process.env.SKY_DEBUG === '1' && e.stack !== undefined) note(mask(e.stack));
  return e.name === 'SkyError' && e.code === 'USAGE' ? 2 : 1;
}
