import type { Readable, Writable } from 'node:stream';
import { note } from './output.js';
import { UsageError } from './usage.js';

/** What a command that changes clusters does before going ahead. */
export type Confirmation = 'proceed' | 'ask' | 'refuse';

/**
 * SkyPilot's rule, made safe for scripts: -y proceeds; otherwise ask on a terminal; with no
 * terminal to ask on, refuse (and say to pass -y) rather than guess.
 */
export function confirmation(yes: boolean | undefined, interactive: boolean): Confirmation {
  if (yes === true) return 'proceed';
  return interactive ? 'ask' : 'refuse';
}

export interface PromptIo {
  input: Readable;
  output: Writable;
}

/** Whether an answer to a `[Y/n]` question means yes (an empty answer takes the default). */
export function isYes(answer: string, defaultYes: boolean): boolean {
  const a = answer.trim();
  if (a === '') return defaultYes;
  return /^y(es)?$/i.test(a);
}

/** Ask a yes/no question; end of input or Ctrl-C is no. */
export async function ask(question: string, defaultYes: boolean, io: PromptIo = { input: process.stdin, output: process.stderr }): Promise<boolean> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: io.input, output: io.output });
  return new Promise<boolean>((resolve) => {
    let answered = false;
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      if (!answered) {
        io.output.write('\n');
        resolve(false);
      }
    });
    rl.question(`${question} ${defaultYes ? '[Y/n]' : '[y/N]'}: `, (answer) => {
      answered = true;
      rl.close();
      resolve(isYes(answer, defaultYes));
    });
  });
}

export interface ConfirmOptions {
  /** The question, e.g. "Stopping 2 clusters: a, b. Proceed?" */
  question: string;
  yes: boolean | undefined;
  /** What would happen, for the refusal: "sky stop would stop 2 clusters: a, b". */
  action: string;
  /** The help command named in the refusal. */
  help: string;
  interactive?: boolean;
}

/** Confirm per the rule above: true to go ahead; false when the user said no ("Aborted." is printed). */
export async function confirmOrAbort(options: ConfirmOptions): Promise<boolean> {
  const decision = confirmation(options.yes, options.interactive ?? process.stdin.isTTY === true);
  if (decision === 'proceed') return true;
  if (decision === 'refuse') throw new UsageError(`${options.action}; pass -y to confirm (stdin is not a terminal)`, options.help);
  if (await ask(options.question, true)) return true;
  note('Aborted.');
  return false;
}
