import { readFile } from 'node:fs/promises';
import type { NewToken, Role } from '@sky/protocol';
import type { SkyClient } from '@sky/client';
import { confirmOrAbort } from '../confirm.js';
import { connect } from '../context.js';
import { knownSecrets, note, print, printJson, rememberSecrets } from '../output.js';
import { newPassword, readLine } from '../prompt.js';
import { canonicalUserName } from '@sky/protocol';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';
import { CsvError, deletedLines, parseUsersCsv, tokenTable, userTable } from '../users-format.js';

/** Passwords and token secrets are masked in whatever is printed from here on. */
function secret(value: string | undefined): void {
  if (value !== undefined && value !== '') rememberSecrets([...knownSecrets(), value]);
}

/** `sky users <action>`: a remote endpoint is never started, and neither is a local one (a team server is started on purpose). */
export async function run({ action, args, options }: Invocation): Promise<number> {
  secret(options.password);
  secret(options.currentPassword);
  const client = await connect();
  try {
    switch (action.name) {
      case 'list':
        return await list(client, options);
      case 'create':
        return await create(client, args[0]!, options);
      case 'delete':
        return await remove(client, args[0]!, options);
      case 'set-role':
        return await setRole(client, args[0]!, args[1]!);
      case 'reset-password':
        return await resetPassword(client, args[0]!, options);
      case 'import':
        return await importUsers(client, args[0]!);
      case 'token':
        return await token(client, args, options);
      default:
        throw new UsageError(`unknown action '${action.name}' for sky users`, 'sky users --help');
    }
  } finally {
    client.close();
  }
}

async function list(client: SkyClient, options: CliOptions): Promise<number> {
  const users = await client.listUsers();
  if (options.output === 'json') printJson(users);
  else for (const line of userTable(users)) print(line);
  return 0;
}

async function create(client: SkyClient, name: string, options: CliOptions): Promise<number> {
  const password = await newPassword(options.password, 'sky users create --help', false);
  secret(password);
  const user = await client.createUser({ name, ...(password === undefined ? {} : { password }), ...(options.role === undefined ? {} : { role: options.role }) });
  print(`Created user ${user.name} (${user.id}), role ${user.role}.`);
  if (password === undefined) note(`No password set: give one with sky users reset-password ${user.name}, or create a token for them.`);
  return 0;
}

async function remove(client: SkyClient, name: string, options: CliOptions): Promise<number> {
  if (options.transferTo !== undefined && options.down === true) throw new UsageError('give either --transfer-to USER or --down, not both', 'sky users delete --help');
  const clusters = options.transferTo !== undefined ? `, give their clusters to ${options.transferTo}` : options.down === true ? ', tear their clusters down' : '';
  const go = await confirmOrAbort({
    question: `Delete user ${name}, revoke their tokens${clusters}?`,
    yes: options.yes,
    action: `sky users delete would delete user ${name}${clusters}`,
    help: 'sky users delete --help',
  });
  if (!go) return 1;
  const gone = await client.deleteUser(name, {
    ...(options.transferTo !== undefined ? { transfer_to: options.transferTo } : {}),
    ...(options.down === true ? { down: true } : {}),
  });
  for (const line of deletedLines(gone)) print(line);
  return 0;
}

async function setRole(client: SkyClient, name: string, role: string): Promise<number> {
  if (role !== 'admin' && role !== 'user') throw new UsageError(`ROLE must be admin or user, got '${role}'`, 'sky users set-role --help');
  const user = await client.setRole(name, role satisfies Role);
  print(`User ${user.name} now has role ${user.role}.`);
  return 0;
}

const RESET_HELP = 'sky users reset-password --help';

/** Your current password, to change your own: --current-password, or asked on a terminal. */
async function currentPassword(given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  if (process.stdin.isTTY !== true) throw new UsageError('changing your own password needs --current-password (stdin is not a terminal to ask on)', RESET_HELP);
  const typed = await readLine('Current password: ', { hidden: true });
  if (typed === undefined || typed === '') throw new UsageError('no current password given', RESET_HELP);
  return typed;
}

async function resetPassword(client: SkyClient, name: string, options: CliOptions): Promise<number> {
  const me = await client.whoami();
  const own = canonicalUserName(name) === me.name;
  const current = own ? await currentPassword(options.currentPassword) : undefined;
  secret(current);
  const password = (await newPassword(options.password, RESET_HELP, true))!;
  secret(password);
  if (password.length < 8) throw new UsageError('the password must have at least 8 characters', RESET_HELP);
  const user = await client.resetPassword(name, password, current);
  print(`Password of ${user.name} changed.`);
  return 0;
}

async function importUsers(client: SkyClient, file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'sky users import --help');
  }
  let users;
  try {
    users = parseUsersCsv(text);
  } catch (err) {
    if (err instanceof CsvError) throw new UsageError(`${file} line ${err.line}: ${err.message}`, 'sky users import --help');
    throw err;
  }
  for (const u of users) secret(u.password);
  if (users.length === 0) throw new UsageError(`${file} has no users (lines of username,password,role)`, 'sky users import --help');
  const result = await client.importUsers({ users });
  print(`Created ${result.created.length} user${result.created.length === 1 ? '' : 's'}${result.created.length > 0 ? `: ${result.created.join(', ')}` : ''}.`);
  for (const s of result.skipped) print(`Skipped ${s.name}: ${s.reason}`);
  return 0;
}

const TOKEN_HELP = 'sky users token --help';

function printNew(created: NewToken, verb: string): void {
  secret(created.token);
  const { record } = created;
  const expires = record.expiresAt === undefined ? 'never expires' : `expires ${new Date(record.expiresAt).toISOString()}`;
  note(`${verb} token ${record.id} (${record.name}) for ${record.userName}; it ${expires}.`);
  note('This is the only time the token is shown: store it now (e.g. as $SKYPILOT_API_SERVER_TOKEN or sky api login --token).');
  // The secret itself goes to stdout, exactly once.
  print(created.token);
}

/** `sky users token create|list|revoke|rotate`: cac matches one word, so the sub-action is dispatched here. */
async function token(client: SkyClient, args: string[], options: CliOptions): Promise<number> {
  const [sub, id] = args;
  const only = (allowed: readonly (keyof CliOptions)[], what: string): void => {
    const extra = (Object.keys(options) as (keyof CliOptions)[]).find((k) => !allowed.includes(k));
    if (extra !== undefined) throw new UsageError(`sky users token ${what} does not take --${extra.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, TOKEN_HELP);
  };
  const needId = (what: string): string => {
    if (id === undefined) throw new UsageError(`sky users token ${what} needs the token ID: sky users token ${what} ID`, TOKEN_HELP);
    return id;
  };
  switch (sub) {
    case 'create': {
      only(['name', 'expiresInDays', 'user'], 'create');
      if (id !== undefined) throw new UsageError(`sky users token create takes no argument, got '${id}' (name it with --name)`, TOKEN_HELP);
      printNew(await client.createToken({ name: options.name ?? 'cli', expiresInDays: options.expiresInDays, user: options.user }), 'Created');
      return 0;
    }
    case 'list': {
      only(['user', 'output'], 'list');
      if (id !== undefined) throw new UsageError(`sky users token list takes no argument, got '${id}'`, TOKEN_HELP);
      const tokens = await client.listTokens(options.user);
      if (options.output === 'json') printJson(tokens);
      else if (tokens.length === 0) print('No tokens.');
      else for (const line of tokenTable(tokens)) print(line);
      return 0;
    }
    case 'revoke': {
      only([], 'revoke');
      const record = await client.revokeToken(needId('revoke'));
      print(`Revoked token ${record.id} (${record.name}) of ${record.userName}.`);
      return 0;
    }
    case 'rotate': {
      only([], 'rotate');
      printNew(await client.rotateToken(needId('rotate')), 'Rotated; new');
      return 0;
    }
    default:
      throw new UsageError(`unknown token action '${sub ?? ''}'; one of create, list, revoke, rotate`, TOKEN_HELP);
  }
}
