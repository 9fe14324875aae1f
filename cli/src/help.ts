import { COMMANDS, NOUNS, OPTIONS, optionHelp, type ActionSpec, type CommandSpec, type NounSpec, type OptionKey } from './spec.js';

export interface HelpSection {
  title?: string;
  body: string;
}

function columns(rows: ReadonlyArray<readonly [string, string]>, indent = '  '): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`.trimEnd()).join('\n');
}

function withArgs(name: string, args: string): string {
  return args === '' ? name : `${name} ${args}`;
}

function usageOf(command: string, action: ActionSpec): string {
  return [withArgs(`sky ${command}`, action.args), action.options.length > 0 ? '[options]' : ''].filter((p) => p !== '').join(' ');
}

const NEGATABLE: Partial<Record<OptionKey, string>> = { follow: '--follow, --no-follow' };

function optionRows(action: ActionSpec): Array<readonly [string, string]> {
  return action.options.map((key) => [NEGATABLE[key] ?? OPTIONS[key].flags, optionHelp(action, key)] as const);
}

const GLOBAL_OPTIONS: Array<readonly [string, string]> = [
  ['-h, --help', 'Display this message'],
  ['-v, --version', 'Display the version'],
];

/** `sky --help`: every command that exists, one line each, grouped as they are used. */
export function globalHelp(version: string): HelpSection[] {
  const sections: HelpSection[] = [
    { body: `sky ${version}: one control plane for a team's AI and batch compute` },
    { title: 'Usage', body: '  $ sky <command> [arguments] [options]\n  $ sky <noun> <action> [arguments] [options]' },
  ];
  const bySection = new Map<string, CommandSpec[]>();
  for (const command of COMMANDS) bySection.set(command.section, [...(bySection.get(command.section) ?? []), command]);
  for (const [title, commands] of bySection) {
    sections.push({ title, body: columns(commands.map((c) => [withArgs(c.name, c.args), c.summary] as const)) });
  }
  for (const noun of NOUNS) {
    sections.push({ title: noun.summary, body: columns(noun.actions.map((a) => [withArgs(`${noun.name} ${a.name}`, a.args), a.summary] as const)) });
  }
  const more = [...COMMANDS.map((c) => c.name), ...NOUNS.map((n) => n.name)];
  sections.push(
    { title: 'For the options of a command, run', body: `  $ sky <command> --help   (${more.join(', ')})` },
    { title: 'Options', body: columns(GLOBAL_OPTIONS) },
  );
  return sections;
}

/** `sky api --help`: the actions of a noun and the options of each. */
export function nounHelp(noun: NounSpec): HelpSection[] {
  const sections: HelpSection[] = [
    { body: noun.summary },
    { title: 'Usage', body: `  $ sky ${noun.name} <action> [options]` },
    { title: 'Actions', body: columns(noun.actions.map((a) => [withArgs(a.name, a.args), a.summary] as const)) },
  ];
  for (const action of noun.actions) {
    if (action.options.length > 0) sections.push({ title: `Options of ${noun.name} ${action.name}`, body: columns(optionRows(action)) });
  }
  return sections;
}

function commandSections(command: string, action: ActionSpec): HelpSection[] {
  const sections: HelpSection[] = [{ body: action.summary }, { title: 'Usage', body: `  $ ${usageOf(command, action)}` }];
  if (action.options.length > 0) sections.push({ title: 'Options', body: columns(optionRows(action)) });
  if (action.examples !== undefined) sections.push({ title: 'Examples', body: action.examples.map((e) => `  $ ${e}`).join('\n') });
  return sections;
}

/** `sky api status --help`. */
export function actionHelp(noun: NounSpec, action: ActionSpec): HelpSection[] {
  return commandSections(`${noun.name} ${action.name}`, action);
}

/** `sky launch --help`. */
export function commandHelp(command: CommandSpec): HelpSection[] {
  return commandSections(command.name, command);
}
