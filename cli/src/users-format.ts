import type { DeletedUser, ImportUsersBody, TokenView, UserView } from '@sky/protocol';
import { age, table } from './format.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;
const ROLES = ['admin', 'user'] as const;

/** A bad line of a users CSV file: says which line and what is wrong, never the password. */
export class CsvError extends Error {
  readonly line: number;

  constructor(line: number, message: string) {
    super(message);
    this.name = 'CsvError';
    this.line = line;
  }
}

/** Split one CSV line into fields; "quoted" fields may hold commas and "" for a quote. */
function fields(line: string, lineNo: number): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new CsvError(lineNo, 'an opening quote has no closing quote');
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i];
        i++;
      }
      if (i < line.length && line[i] !== ',') throw new CsvError(lineNo, 'text after a closing quote');
    } else {
      const comma = line.indexOf(',', i);
      const end = comma === -1 ? line.length : comma;
      field = line.slice(i, end);
      i = end;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/**
 * Parse a users CSV: `username,password,role` per line (role optional: user), an optional header
 * line, blank lines and `#` comments ignored. A bad line is a CsvError naming it.
 */
export function parseUsersCsv(text: string): ImportUsersBody['users'] {
  const users: ImportUsersBody['users'] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const cells = fields(line, lineNo).map((c) => c.trim());
    if (users.length === 0 && seen.size === 0 && cells[0]?.toLowerCase() === 'username' && cells[1]?.toLowerCase() === 'password') return;
    if (cells.length < 2 || cells.length > 3) throw new CsvError(lineNo, `expected username,password,role but found ${cells.length} field${cells.length === 1 ? '' : 's'}`);
    const [name = '', password = '', roleCell = ''] = cells;
    if (!NAME.test(name) || name.length > 64) throw new CsvError(lineNo, 'the user name must be 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
    if (password.length < 8) throw new CsvError(lineNo, `the password of ${name} is shorter than 8 characters`);
    if (password.length > 1024) throw new CsvError(lineNo, `the password of ${name} is longer than 1024 characters`);
    const role = roleCell === '' ? undefined : ROLES.find((r) => r === roleCell.toLowerCase());
    if (roleCell !== '' && role === undefined) throw new CsvError(lineNo, `the role of ${name} must be admin or user, got '${roleCell}'`);
    const first = seen.get(name);
    if (first !== undefined) throw new CsvError(lineNo, `${name} is already on line ${first}`);
    seen.set(name, lineNo);
    users.push(role === undefined ? { name, password } : { name, password, role });
  });
  return users;
}

export function userTable(users: readonly UserView[], now: number = Date.now()): string[] {
  const rows = users.map((u) => [u.name, u.id, u.disabled === true ? `${u.role} (disabled)` : u.role, age(u.createdAt, now)]);
  return table(['NAME', 'ID', 'ROLE', 'CREATED'], rows);
}

/** How long until a time: "in 5m", "in 3h", "in 12d". */
export function until(then: number, now: number = Date.now()): string {
  const minutes = Math.max(0, Math.floor((then - now) / 60_000));
  if (minutes < 60) return `in ${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `in ${hours}h`;
  return `in ${Math.floor(hours / 24)}d`;
}

export function tokenStatus(t: TokenView, now: number = Date.now()): 'revoked' | 'expired' | 'active' {
  if (t.revokedAt !== undefined) return 'revoked';
  if (t.expiresAt !== undefined && t.expiresAt <= now) return 'expired';
  return 'active';
}

export function tokenTable(tokens: readonly TokenView[], now: number = Date.now()): string[] {
  const rows = tokens.map((t) => {
    const status = tokenStatus(t, now);
    const expires = t.expiresAt === undefined ? 'never' : status === 'expired' ? age(t.expiresAt, now) : until(t.expiresAt, now);
    const used = t.lastUsedAt === undefined ? '-' : age(t.lastUsedAt, now);
    return [t.id, t.name, t.userName, age(t.createdAt, now), expires, used, status];
  });
  return table(['ID', 'NAME', 'USER', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS'], rows);
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What `sky users delete` prints: the user, and what became of their tokens, requests and clusters. */
export function deletedLines(gone: DeletedUser): string[] {
  const lines = [`Deleted user ${gone.name} (${gone.id}): ${count(gone.revokedTokens, 'token')} revoked, ${count(gone.cancelledRequests.length, 'request')} cancelled.`];
  if (gone.transferredTo !== undefined && gone.transferred.length > 0) lines.push(`Their clusters now belong to ${gone.transferredTo}: ${gone.transferred.join(', ')}.`);
  if (gone.downRequests.length > 0) {
    lines.push(`Tearing down their clusters: ${gone.downRequests.map((d) => d.cluster).join(', ')}.`);
    for (const d of gone.downRequests) lines.push(`  ${d.cluster}: request ${d.requestId} (sky api logs ${d.requestId})`);
  }
  return lines;
}
