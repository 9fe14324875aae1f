import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { actionHelp, commandHelp, globalHelp, nounHelp } from '../../cli/src/help.js';
import { API, COMMANDS, DAEMON, NOUNS, commandNamed, type CommandSpec } from '../../cli/src/spec.js';
import { UsageError, nounNamed, validate, validateCommand } from '../../cli/src/usage.js';

const text = (sections: Array<{ title?: string; body: string }>): string => sections.map((s) => `${s.title ?? ''}\n${s.body}`).join('\n');

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a UsageError');
}

describe('validate', () => {
  it('types the options an action accepts, under any of their names', () => {
    const inv = validate(API, 'status', ['id1', 'id2'], { a: true, all: true, u: true, allUsers: true, l: 5, limit: 5, o: 'json', output: 'json', '--': [] });
    assert.equal(inv.action.name, 'status');
    assert.deepEqual(inv.args, ['id1', 'id2']);
    assert.deepEqual(inv.options, { all: true, allUsers: true, limit: 5, output: 'json' });
    const ping = validate(API, 'ping', [], { sleep: 0.5, lane: 'long', fail: 42, async: true });
    assert.deepEqual(ping.options, { sleep: 0.5, lane: 'long', fail: '42', async: true });
    assert.deepEqual(validate(API, 'logs', [], { follow: false }).options, { follow: false });
  });

  it('rejects an option that belongs to another action, naming both', () => {
    const err = usageError(() => validate(API, 'info', [], { follow: true }));
    assert.equal(err.message, "option --follow is not valid for 'sky api info'");
    assert.equal(err.helpCommand, 'sky api info --help');
  });

  it('rejects missing and unknown actions, listing the real ones', () => {
    assert.match(usageError(() => validate(API, undefined, [], {})).message, /^missing action: .*info, status, logs, cancel, ping, start, stop, login, logout, audit, export, events, usage$/);
    const unknown = usageError(() => validate(DAEMON, 'restart', [], {}));
    assert.match(unknown.message, /unknown action 'restart' for sky daemon; one of start, stop, status/);
    assert.equal(unknown.helpCommand, 'sky daemon --help');
  });

  it('rejects extra arguments', () => {
    assert.match(usageError(() => validate(API, 'info', ['x'], {})).message, /sky api info takes no arguments, got 'x'/);
    assert.match(usageError(() => validate(API, 'logs', ['a', 'b'], {})).message, /takes at most 1 argument/);
  });

  it('rejects bad values with what was expected', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['ping', { lane: 'medium' }, /--lane must be one of short, long, got 'medium'/],
      ['ping', { sleep: -1 }, /--sleep must be a number from 0 to 3600/],
      ['ping', { sleep: 'soon' }, /--sleep must be a number/],
      ['status', { limit: 1.5 }, /--limit must be an integer/],
      ['status', { o: 'yaml', output: 'yaml' }, /--output must be one of text, json, got 'yaml'/],
      ['start', { port: 70000 }, /--port must be an integer from 1 to 65535/],
      ['start', { port: [1, 2] }, /--port was given more than once/],
      ['cancel', { yes: 'please' }, /--yes takes no value/],
    ];
    for (const [action, options, message] of cases) {
      const err = usageError(() => validate(API, action, [], options));
      assert.match(err.message, message);
      assert.equal(err.helpCommand, `sky api ${action} --help`);
    }
  });
});

describe('help', () => {

  it('sky --help lists every action of every noun, and nothing else', () => {
    const help = text(globalHelp('9.9.9'));
    const listed = [...help.matchAll(/^ {2}(api|daemon|ssh|users|workspace|jobs|serve|plugins) ([\w-]+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(listed, NOUNS.flatMap((n) => n.actions.map((a) => `${n.name} ${a.name}`)));
  });

  it('sky api --help lists the actions and each action shows only its own options', () => {
    const help = text(nounHelp(API));
    for (const action of API.actions) assert.match(help, new RegExp(`^ {2}${action.name}\\b`, 'm'));
    const info = text(actionHelp(API, API.actions.find((a) => a.name === 'info') ?? assert.fail()));
    assert.match(info, /-o, --output <format>/);
    assert.doesNotMatch(info, /--follow|--all/);
  });
});

describe('plain commands (sky launch, sky status, …)', () => {
  const spec = (name: string): CommandSpec => commandNamed(name) ?? assert.fail(`no command ${name}`);

  it('every cluster and infra command of SkyPilot (and sky dashboard) exists, as a one-word command with no actions', () => {
    assert.deepEqual(
      COMMANDS.map((c) => c.name),
      ['launch', 'exec', 'status', 'queue', 'logs', 'cancel', 'stop', 'start', 'down', 'autostop', 'check', 'show-gpus', 'dashboard'],
    );
    for (const c of COMMANDS) assert.equal(nounNamed(c.name), undefined, `${c.name} is not also a noun`);
  });

  it('keeps the words of a command as given, including those after --', () => {
    const inv = validateCommand(spec('launch'), ['echo'], { c: 'dev', cluster: 'dev', y: true, yes: true, '--': ['hi', '--there'] });
    assert.equal(inv.noun, undefined);
    assert.equal(inv.action.name, 'launch');
    assert.deepEqual(inv.args, ['echo', 'hi', '--there']);
    assert.deepEqual(inv.options, { cluster: 'dev', yes: true });
  });

  it('types the task flags: repeated --env and --secret keep every value in order, numbers become text', () => {
    const inv = validateCommand(spec('launch'), ['task.yaml'], {
      env: ['A=1', 'B=2'],
      secret: 'TOKEN',
      cpus: 4,
      memory: '16+',
      numNodes: 2,
      gpus: 'H100:8',
      i: 10,
      idleMinutesToAutostop: 10,
      down: true,
      d: true,
      detachRun: true,
    });
    assert.deepEqual(inv.options, {
      env: ['A=1', 'B=2'],
      secret: ['TOKEN'],
      cpus: '4',
      memory: '16+',
      numNodes: '2',
      gpus: 'H100:8',
      idleMinutesToAutostop: 10,
      down: true,
      detach: true,
    });
  });

  it('-i means --idle-minutes-to-autostop for launch and --idle-minutes for autostop', () => {
    assert.deepEqual(validateCommand(spec('launch'), [], { i: 5 }).options, { idleMinutesToAutostop: 5 });
    assert.deepEqual(validateCommand(spec('autostop'), ['dev'], { i: 5, idleMinutes: 5 }).options, { idleMinutes: 5 });
  });

  it('needs its required arguments and says which', () => {
    const logs = usageError(() => validateCommand(spec('logs'), [], {}));
    assert.equal(logs.message, 'sky logs needs CLUSTER: sky logs CLUSTER [JOB_ID]');
    assert.equal(logs.helpCommand, 'sky logs --help');
    assert.match(usageError(() => validateCommand(spec('logs'), ['a', '1', '2'], {})).message, /sky logs takes at most 2 arguments, got 'a 1 2'/);
    assert.match(usageError(() => validateCommand(spec('exec'), [], {})).message, /^sky exec needs CLUSTER/);
    assert.match(usageError(() => validateCommand(spec('cancel'), [], { a: true, all: true })).message, /^sky cancel needs CLUSTER/);
  });

  it('rejects options of other commands, unknown options and flags without their value', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['status', { dryrun: true }, "option --dryrun is not valid for 'sky status'"],
      ['stop', { i: 5 }, "option --idle-minutes-to-autostop is not valid for 'sky stop'"],
      ['queue', { bogus: 1 }, 'unknown option --bogus'],
      ['launch', { c: true, cluster: true }, '--cluster needs a value'],
      ['launch', { env: ['A=1', true] }, '--env needs a value'],
      ['launch', { c: ['a', 'b'], cluster: ['a', 'b'] }, '--cluster was given more than once'],
      ['launch', { i: -1 }, "--idle-minutes-to-autostop must be an integer from 0 to 525600, got '-1'"],
      ['logs', { tail: 'many' }, "--tail must be an integer from 0 to 100000, got 'many'"],
      ['status', { r: 'yes', refresh: 'yes' }, '--refresh takes no value'],
    ];
    for (const [name, options, message] of cases) {
      const err = usageError(() => validateCommand(spec(name), name === 'logs' ? ['dev'] : [], options));
      assert.equal(err.message, message, name);
      assert.equal(err.helpCommand, `sky ${name} --help`);
    }
  });

  it('sky --help lists every command under its heading, with its arguments', () => {
    const help = text(globalHelp('9.9.9'));
    for (const c of COMMANDS) assert.match(help, new RegExp(`^ {2}${c.name} ${c.args.replace(/[[\].|]/g, '\\$&')}\\s+${c.summary.replace(/[()]/g, '\\$&')}$`, 'm'));
    assert.match(help, /^Clusters and jobs\n {2}launch /m);
  });

  it('sky launch --help shows its options, SkyPilot style, and examples', () => {
    const help = text(commandHelp(spec('launch')));
    assert.match(help, /\$ sky launch \[TASK\.yaml \| COMMAND\.\.\.\] \[options\]/);
    for (const flag of ['-c, --cluster <name>', '-d, --detach-run', '-i, --idle-minutes-to-autostop <minutes>', '--down', '--dryrun', '--env <NAME=VALUE>', '--env-file <file>', '--secret <NAME[=VALUE]>', '--num-nodes <n>']) {
      assert.ok(help.includes(flag), flag);
    }
    assert.match(help, /Examples\n {2}\$ sky launch -c dev examples\/two-node\.yaml/);
    assert.doesNotMatch(help, /--refresh|--server-logs/);
  });
});
