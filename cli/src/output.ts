/** Everything the CLI shows goes through here, so credentials of the endpoint can be masked in one place. */
let secrets: readonly string[] = [];

export function rememberSecrets(values: readonly string[]): void {
  secrets = values;
}

export function knownSecrets(): readonly string[] {
  return secrets;
}

/** Where the CLI's output goes: the process's stdout and stderr, or what a test put there. */
export interface OutputSink {
  out(text: string): void;
  err(text: string): void;
}

const PROCESS_OUTPUT: OutputSink = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

let sink: OutputSink = PROCESS_OUTPUT;

/** Send what the CLI prints to `to` (tests run commands in-process this way); returns what undoes it. */
export function redirectOutput(to: OutputSink): () => void {
  sink = to;
  return () => {
    sink = PROCESS_OUTPUT;
  };
}

export function writeOut(text: string): void {
  sink.out(text);
}

export function writeErr(text: string): void {
  sink.err(text);
}

/** A line of the command's result, on stdout. */
export function print(line = ''): void {
  sink.out(`${line}\n`);
}

/** Progress and advice, on stderr so stdout stays the result. */
export function note(line: string): void {
  sink.err(`${line}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}
