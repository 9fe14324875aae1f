import { readFileSync } from 'node:fs';
import { cac, type CAC } from 'cac';
import { actionHelp, commandHelp, globalHelp, nounHelp, type HelpSection } from './help.js';
import { report } from './report.js';
import { COMMANDS, NOUNS, OPTIONS, commandNamed, optionsOf, type OptionKey } from './spec.js';
import { camelCaseFlags, typedFlags, valuedSwitch } from './typed-flags.js';
import { UsageError, nounNamed, validate, validateCommand, type Invocation } from './usage.js';

/**
 * Long names of a command's options that take no value (on/off flags). Per command: a long name
 * may be a switch for one command and take a value for another (`sky serve status --endpoint`,
 * `sky api login --endpoint URL`).
 */
function switchesOf(keys: readonly OptionKey[]): ReadonlySet<string> {
  return new Set(
    keys
      .map((key) => OPTIONS[key].flags)
      .filter((flags) => !/[<[]/.test(flags))
      .flatMap((flags) => [...flags.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!)),
  );
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function helpFor(cli: CAC, ver: string): HelpSection[] {
  const name = cli.matchedCommandName;
  const command = name === undefined ? undefined : commandNamed(name);
  if (command !== undefined) return commandHelp(command);
  const noun = name === undefined ? undefined : nounNamed(name);
  if (noun === undefined) return globalHelp(ver);
  const action = noun.actions.find((a) => a.name === cli.args[0]);
  return action === undefined ? nounHelp(noun) : actionHelp(noun, action);
}

/** Command modules are imported only when their noun runs, so `sky --help` loads no client code. */
async function dispatch(invocation: Invocation): Promise<number> {
  switch (invocation.noun?.name ?? invocation.action.name) {
    case 'api':
      return (await import('./commands/api.js')).run(invocation);
    case 'daemon':
      return (await import('./commands/daemon.js')).run(invocation);
    case 'launch':
    case 'exec':
      return (await import('./commands/launch.js')).run(invocation);
    case 'status':
      return (await import('./commands/status.js')).run(invocation);
    case 'queue':
      return (await import('./commands/queue.js')).run(invocation);
    case 'logs':
      return (await import('./commands/logs.js')).run(invocation);
    case 'cancel':
      return (await import('./commands/cancel.js')).run(invocation);
    case 'stop':
    case 'start':
    case 'down':
    case 'autostop':
      return (await import('./commands/lifecycle.js')).run(invocation);
    case 'check':
      return (await import('./commands/check.js')).run(invocation);
    case 'show-gpus':
      return (await import('./commands/show-gpus.js')).run(invocation);
    case 'ssh':
      return (await import('./commands/ssh.js')).run(invocation);
    case 'users':
      return (await import('./commands/users.js')).run(invocation);
    case 'workspace':
      return (await import('./commands/workspace.js')).run(invocation);
    case 'jobs':
      return (await import('./commands/jobs.js')).run(invocation);
    case 'serve':
      return (await import('./commands/serve.js')).run(invocation);
    case 'dashboard':
      return (await import('./commands/dashboard.js')).run(invocation);
    case 'plugins':
      return (await import('./commands/plugins.js')).run(invocation);
    default:
      throw new UsageError(`unknown command '${invocation.action.name}'`);
  }
}

let watchingStdout = false;

/** Run the CLI on process-style argv; resolves with the exit code and never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  if (!watchingStdout) {
    watchingStdout = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      // EPIPE: the reader went away (sky api status | head), which is not a failure.
      process.exit(err.code === 'EPIPE' ? 0 : 1);
    });
  }
  // Internal, run by ssh as the ProxyCommand of generated SSH configs: not in help, not parsed by cac.
  if (argv[2] === 'ssh-proxy') return (await import('./commands/ssh-proxy.js')).main(argv.slice(3));
  const ver = version();
  const cli = cac('sky');
  const flags = typedFlags(argv.slice(2));
  for (const noun of NOUNS) {
    const command = cli.command(`${noun.name} [action] [...args]`, noun.summary).ignoreOptionDefaultValue();
    for (const key of optionsOf(noun)) command.option(OPTIONS[key].flags, OPTIONS[key].help);
    command.action((action: string | undefined, args: string[], options: Record<string, unknown>) =>
      dispatch(validate(noun, action, args, options, flags)),
    );
  }
  for (const spec of COMMANDS) {
    const command = cli.command(`${spec.name} [...args]`, spec.summary).ignoreOptionDefaultValue();
    for (const key of spec.options) command.option(OPTIONS[key].flags, OPTIONS[key].help);
    command.action((args: unknown[], options: Record<string, unknown>) => dispatch(validateCommand(spec, args, options, flags)));
  }
  cli.help(() => helpFor(cli, ver));
  cli.version(ver);
  let helpCommand = 'sky --help';
  try {
    cli.parse([...argv.slice(0, 2), ...camelCaseFlags(argv.slice(2))], { run: false });
    if (cli.options.help === true) return 0;
    const command = cli.matchedCommand;
    if (command === undefined) {
      if (cli.options.version === true) return 0;
      const first = cli.args[0];
      if (first !== undefined) throw new UsageError(`unknown command '${first}'`);
      const flag = Object.keys(cli.options).find((k) => k !== '--');
      if (flag !== undefined) throw new UsageError(`unknown option ${flags.get(flag) ?? (flag.length === 1 ? `-${flag}` : `--${flag}`)}`);
      cli.outputHelp();
      return 0;
    }
    helpCommand = `sky ${command.name} --help`;
    const noun = nounNamed(command.name);
    const spec = commandNamed(command.name);
    const valued = valuedSwitch(argv.slice(2), switchesOf(noun !== undefined ? optionsOf(noun) : (spec?.options ?? [])));
    if (valued !== undefined) throw new UsageError(`option ${valued.slice(0, valued.indexOf('='))} takes no value (got ${valued})`, helpCommand);
    // Our checks first, so a bad flag is named as typed rather than in cac's camelCase.
    if (noun !== undefined) validate(noun, cli.args[0], cli.args.slice(1), cli.options, flags);
    else if (spec !== undefined) validateCommand(spec, cli.args, cli.options, flags);
    return (await cli.runMatchedCommand()) as number;
  } catch (err) {
    return report(err, helpCommand);
  }
}
