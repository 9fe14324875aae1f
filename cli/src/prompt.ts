import { Writable, type Readable } from 'node:stream';
import { UsageError } from './usage.js';

export interface LineIo {
  input: Readable;
  output: NodeJS.WritableStream;
}

const STDIO: LineIo = { input: process.stdin, output: process.stderr };

/** Read one line after a question; undefined at end of input. With `hidden`, what is typed is not echoed. */
export async function readLine(question: string, options: { hidden?: boolean; io?: LineIo } = {}): Promise<string | undefined> {
  const io = options.io ?? STDIO;
  const { createInterface } = await import('node:readline');
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      if (!muted) io.output.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: io.input, output, terminal: options.hidden === true && (io.input as { isTTY?: boolean }).isTTY === true });
  return new Promise<string | undefined>((resolve) => {
    let answered = false;
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      if (!answered) resolve(undefined);
    });
    rl.question(question, (answer) => {
      answered = true;
      if (options.hidden === true) io.output.write('\n');
      rl.close();
      resolve(answer);
    });
    if (options.hidden === true) muted = true;
  });
}

/** A new password: --password, or asked twice on a terminal (no terminal: a usage error naming the flag). */
export async function newPassword(given: string | undefined, help: string, required: boolean): Promise<string | undefined> {
  if (given !== undefined) return given;
  if (process.stdin.isTTY !== true) {
    if (!required) return undefined;
    throw new UsageError('give the password with --password (stdin is not a terminal to ask on)', help);
  }
  const first = await readLine('Password: ', { hidden: true });
  if (first === undefined || first === '') throw new UsageError('no password given', help);
  const again = await readLine('Repeat the password: ', { hidden: true });
  if (again !== first) throw new UsageError('the two passwords differ', help);
  return first;
}
