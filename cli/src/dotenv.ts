import { SkyError } from '@sky/client';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };

function fail(file: string, line: number, message: string): never {
  throw new SkyError('TASK_INVALID', `${file}:${line}: ${message}`, {
    hint: 'An env file has one NAME=VALUE per line; # starts a comment; values may be quoted with \' or ".',
    details: { source: file, line },
  });
}

/** The value after `=`: unquoted (trailing ` # comment` dropped), 'literal', or "with \n escapes". */
function value(raw: string, file: string, line: number): string {
  const text = raw.trim();
  const quote = text[0];
  if (quote === "'" || quote === '"') {
    const end = quote === "'" ? text.indexOf("'", 1) : closingDoubleQuote(text);
    if (end < 0) fail(file, line, `the value starts with ${quote} but has no closing ${quote}`);
    const rest = text.slice(end + 1).trim();
    if (rest !== '' && !rest.startsWith('#')) fail(file, line, `unexpected text after the closing ${quote}: ${rest}`);
    const inner = text.slice(1, end);
    return quote === "'" ? inner : inner.replace(/\\(.)/g, (m, c: string) => ESCAPES[c] ?? m);
  }
  const comment = text.search(/\s#/);
  return (comment < 0 ? text : text.slice(0, comment)).trim();
}

function closingDoubleQuote(text: string): number {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

/**
 * Read a dotenv file (`sky launch --env-file`), as python-dotenv reads the common cases:
 * `NAME=VALUE`, `export NAME=VALUE`, blank lines and `#` comments, quoted values. A line it
 * cannot read is an error naming file and line, never skipped.
 */
export function parseDotenv(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const body = trimmed.replace(/^export\s+/, '');
    const eq = body.indexOf('=');
    if (eq < 0) fail(file, line, `expected NAME=VALUE, got ${JSON.stringify(trimmed.length > 60 ? `${trimmed.slice(0, 59)}…` : trimmed)}`);
    const name = body.slice(0, eq).trim();
    if (!NAME.test(name)) fail(file, line, `${JSON.stringify(name)} is not a valid variable name: use letters, digits and '_', not starting with a digit`);
    out[name] = value(body.slice(eq + 1), file, line);
  }
  return out;
}
