import { NOUNS, OPTIONS, optionHelp, type ActionSpec, type NounSpec } from './spec.js';

export interface HelpSection {
  title?: string;
  body: string;
}

function columns(rows: ReadonlyArray<readonly [string, string]>, indent = '  '): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`).join('\n');
}

function usageOf(noun: NounSpec, action: ActionSpec): string {
  return [`sky ${noun.name} ${action.name}`, action.args, action.options.length > 0 ? '[options]' : ''].filter((p) => p !== '').join(' ');
}

function optionRows(action: ActionSpec): Array<readonly [string, string]> {
  return action.options.map((key) => [key === 'follow' ? '--follow, --no-follow' : OPTIONS[key].flags, optionHelp(action, key)] as const);
}

const GLOBAL_OPTIONS: Array<readonly [string, string]> = [
  ['-h, --help', 'Display this message'],
  ['-v, --version', 'Display the version'],
];

/** `sky --help`: every command that exists, one line each. */
export function globalHelp(version: string): HelpSection[] {
  const rows = NOUNS.flatMap((noun) => noun.actions.map((a) => [`${noun.name} ${a.name}${a.args === '' ? '' : ` ${a.args}`}`, a.summary] as const));
  return [
    { body: `sky ${version}: one control plane for a team's AI and batch compute` },
    { title: 'Usage', body: '  $ sky <command> <action> [options]' },
    { title: 'Commands', body: columns(rows) },
    { title: 'For the options of a command, run', body: NOUNS.map((n) => `  $ sky ${n.name} --help`).join('\n') },
    { title: 'Options', body: columns(GLOBAL_OPTIONS) },
  ];
}

/** `sky api --help`: the actions of a noun and the options of each. */
export function nounHelp(noun: NounSpec): HelpSection[] {
  const sections: HelpSection[] = [
    { body: noun.summary },
    { title: 'Usage', body: `  $ sky ${noun.name} <action> [options]` },
    { title: 'Actions', body: columns(noun.actions.map((a) => [`${a.name}${a.args === '' ? '' : ` ${a.args}`}`, a.summary] as const)) },
  ];
  for (const action of noun.actions) {
    if (action.options.length > 0) sections.push({ title: `Options of ${noun.name} ${action.name}`, body: columns(optionRows(action)) });
  }
  return sections;
}

/** `sky api status --help`. */
export function actionHelp(noun: NounSpec, action: ActionSpec): HelpSection[] {
  const sections: HelpSection[] = [{ body: action.summary }, { title: 'Usage', body: `  $ ${usageOf(noun, action)}` }];
  if (action.options.length > 0) sections.push({ title: 'Options', body: columns(optionRows(action)) });
  return sections;
}
