/**
 * Every command, action and option the CLI has. cac matches one-word commands only, so each
 * noun is a single cac command (`api [action] [...args]`) carrying the options of all its
 * actions; this table says which action accepts which option, and drives help and validation.
 */
export const OPTIONS = {
  all: { flags: '-a, --all', help: 'Include finished requests' },
  allUsers: { flags: '-u, --all-users', help: "Include every user's requests" },
  limit: { flags: '-l, --limit <n>', help: 'Show at most N requests' },
  output: { flags: '-o, --output <format>', help: 'Output format: text (default) or json' },
  follow: { flags: '--follow', help: 'Keep streaming until the request finishes (default); --no-follow prints what is there and returns' },
  serverLogs: { flags: '--server-logs', help: "Stream the API server's own log instead of a request's" },
  yes: { flags: '-y, --yes', help: 'Do not ask for confirmation' },
  sleep: { flags: '--sleep <seconds>', help: 'Seconds the ping request sleeps, logging once a second' },
  lane: { flags: '--lane <lane>', help: 'Lane to run in: short (default) or long' },
  fail: { flags: '--fail <message>', help: 'Make the request fail with this message' },
  async: { flags: '--async', help: 'Print the request ID and return without waiting' },
  host: { flags: '--host <host>', help: 'Address to listen on' },
  port: { flags: '--port <port>', help: 'Port to listen on' },
  config: { flags: '--config <file>', help: 'Daemon config file (see sky.config.example.yaml)' },
  foreground: { flags: '--foreground', help: 'Run in this terminal instead of in the background' },
} as const;

export type OptionKey = keyof typeof OPTIONS;

export interface ActionSpec {
  readonly name: string;
  /** Positional arguments as shown in help, e.g. "[IDS...]". */
  readonly args: string;
  /** How many positional arguments it takes at most. */
  readonly maxArgs: number;
  readonly summary: string;
  readonly options: readonly OptionKey[];
  /** Where an option means something more specific for this action than its general help. */
  readonly optionHelp?: Partial<Record<OptionKey, string>>;
}

export interface NounSpec {
  readonly name: string;
  readonly summary: string;
  readonly actions: readonly ActionSpec[];
}

const many = Number.POSITIVE_INFINITY;

export const API: NounSpec = {
  name: 'api',
  summary: 'Talk to the API server: requests, their logs, the server itself',
  actions: [
    { name: 'info', args: '', maxArgs: 0, summary: 'Show the API server in use, its health and who you are', options: ['output'] },
    {
      name: 'status',
      args: '[IDS...]',
      maxArgs: many,
      summary: 'List requests (default: your PENDING and RUNNING ones)',
      options: ['all', 'allUsers', 'limit', 'output'],
    },
    {
      name: 'logs',
      args: '[ID]',
      maxArgs: 1,
      summary: 'Stream the log of a request (default: your newest one)',
      options: ['follow', 'serverLogs'],
    },
    {
      name: 'cancel',
      args: '[IDS...]',
      maxArgs: many,
      summary: 'Cancel requests (running ones are aborted)',
      options: ['all', 'allUsers', 'yes'],
      optionHelp: { all: 'Cancel all your active requests', allUsers: "With -a: every user's active requests" },
    },
    {
      name: 'ping',
      args: '',
      maxArgs: 0,
      summary: 'Submit a diagnostic request, stream its log and print the answer',
      options: ['sleep', 'lane', 'fail', 'async'],
    },
    {
      name: 'start',
      args: '',
      maxArgs: 0,
      summary: 'Start the local API server (other commands start it when needed)',
      options: ['host', 'port', 'foreground'],
    },
    { name: 'stop', args: '', maxArgs: 0, summary: 'Stop the local API server, letting running requests drain', options: [] },
  ],
};

export const DAEMON: NounSpec = {
  name: 'daemon',
  summary: 'Run the API server for a team (on a shared machine)',
  actions: [
    {
      name: 'start',
      args: '',
      maxArgs: 0,
      summary: 'Start the API server in the background (or --foreground)',
      options: ['host', 'port', 'config', 'foreground'],
    },
    { name: 'stop', args: '', maxArgs: 0, summary: 'Stop the API server on this machine', options: [] },
    { name: 'status', args: '', maxArgs: 0, summary: 'Show whether the API server on this machine runs (exit 1 if not)', options: [] },
  ],
};

export const NOUNS: readonly NounSpec[] = [API, DAEMON];

/** The keys cac stores an option under: each of its names, camelCased (`-u, --all-users` → u, allUsers). */
export function optionNames(key: OptionKey): string[] {
  return OPTIONS[key].flags
    .replace(/[<[].*$/, '')
    .split(',')
    .map((part) => part.trim().replace(/^-+/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()));
}

/** The flag as the user reads it: the long form. */
export function longFlag(key: OptionKey): string {
  const flags = OPTIONS[key].flags.replace(/\s*[<[].*$/, '').split(',').map((f) => f.trim());
  return flags[flags.length - 1] ?? key;
}

export function optionHelp(action: ActionSpec, key: OptionKey): string {
  return action.optionHelp?.[key] ?? OPTIONS[key].help;
}

export function optionsOf(noun: NounSpec): OptionKey[] {
  return [...new Set(noun.actions.flatMap((a) => a.options))];
}
