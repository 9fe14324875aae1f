/** Everything the CLI shows goes through here, so credentials of the endpoint can be masked in one place. */
let secrets: readonly string[] = [];

export function rememberSecrets(values: readonly string[]): void {
  secrets = values;
}

export function knownSecrets(): readonly string[] {
  return secrets;
}

/** A line of the command's result, on stdout. */
export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Progress and advice, on stderr so stdout stays the result. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}
