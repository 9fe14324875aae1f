// cac (through mri) stores options camelCased and folds `--no-x` into `x: false`, so by the time
// a command sees its options the user's spelling is gone. Error messages must name a flag as it
// was typed (`--use-spot`, `--no-setup`), so the spelling is read back from argv here.

/** cac's camelCase of one option name: `use-spot` → `useSpot` (a dash between two lower-case letters). */
export function cacKey(name: string): string {
  return name.replace(/([a-z])-([a-z])/g, (_m, a: string, b: string) => `${a}${b.toUpperCase()}`);
}

/**
 * Each option of an argv as typed, keyed as cac stores it: `--use-spot` → useSpot,
 * `--no-setup` → setup, `-y` → y, `-abc` → a, b and c. Only the first spelling of a key is kept;
 * nothing after `--` is an option.
 */
export function typedFlags(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const keep = (key: string, typed: string): void => {
    if (!out.has(key)) out.set(key, typed);
  };
  for (const token of argv) {
    if (token === '--') break;
    if (token.startsWith('--')) {
      const typed = token.split('=')[0]!;
      const name = typed.slice(2);
      if (name.length === 0) continue;
      keep(cacKey(name.startsWith('no-') ? name.slice(3) : name), typed);
    } else if (/^-[^-\d]/.test(token)) {
      // A cluster of short flags; a value glued to it (`-i5`) is not a flag.
      for (const c of token.slice(1).split('=')[0]!) {
        if (/[0-9]/.test(c)) break;
        keep(c, `-${c}`);
      }
    }
  }
  return out;
}

/**
 * argv with long flags camelCased (`--use-spot` → `--useSpot`) for cac: it tells its parser
 * which options are booleans by their camelCased names only, so `--use-spot task.yaml` would
 * otherwise take task.yaml as the flag's value. `--no-x` and everything after `--` are left alone.
 */
export function camelCaseFlags(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((token, i) => {
    if ((end >= 0 && i >= end) || !token.startsWith('--') || token.startsWith('--no-')) return token;
    const eq = token.indexOf('=');
    const name = eq < 0 ? token : token.slice(0, eq);
    return `${cacKey(name)}${eq < 0 ? '' : token.slice(eq)}`;
  });
}

/**
 * The first long on/off flag of argv given a value (`--use-spot=maybe`), which cac would set and
 * then read the value as a word of the command. `booleans` are the long names that take none.
 */
export function valuedSwitch(argv: readonly string[], booleans: ReadonlySet<string>): string | undefined {
  for (const token of argv) {
    if (token === '--') break;
    const eq = token.indexOf('=');
    if (!token.startsWith('--') || eq < 0) continue;
    const name = token.slice(2, eq);
    if (booleans.has(name) || (name.startsWith('no-') && booleans.has(name.slice(3)))) return token;
  }
  return undefined;
}
