// Cluster-name patterns as SkyPilot takes them (Python's fnmatch): `*` any run of characters,
// `?` one character, `[abc]` / `[a-z]` one of a set, `[!abc]` one not in it. Cluster names
// never contain these characters, so a name that has one is a pattern.

import { UsageError } from './usage.js';

export function isGlob(name: string): boolean {
  return /[*?[]/.test(name);
}

function escape(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** The pattern as an anchored regular expression; a `[` without its `]` is a literal `[`. */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, j);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/^\^/, '\\^')}]`;
      i = j;
    } else out += escape(c);
  }
  try {
    return new RegExp(`^${out}$`);
  } catch {
    // A set whose range runs backwards ([z-a]): no name could match what was meant.
    throw new UsageError(`'${pattern}' is not a valid cluster-name pattern (a [...] set has a range that runs backwards, such as [z-a])`, 'sky status --help');
  }
}

/** Names matching the pattern, in the order given. */
export function matchNames(pattern: string, names: readonly string[]): string[] {
  const re = globToRegExp(pattern);
  return names.filter((n) => re.test(n));
}

export interface Expanded {
  names: string[];
  /** Patterns that matched none of the names. */
  unmatched: string[];
}

/** Each argument as itself, or, for a pattern, the names it matches; duplicates dropped, order kept. */
export function expandNames(args: readonly string[], names: readonly string[]): Expanded {
  const out = new Set<string>();
  const unmatched: string[] = [];
  for (const arg of args) {
    if (!isGlob(arg)) {
      out.add(arg);
      continue;
    }
    const matched = matchNames(arg, names);
    if (matched.length === 0) unmatched.push(arg);
    for (const n of matched) out.add(n);
  }
  return { names: [...out], unmatched };
}
