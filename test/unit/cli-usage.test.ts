import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { actionHelp, globalHelp, nounHelp } from '../../cli/src/help.js';
import { API, DAEMON, NOUNS } from '../../cli/src/spec.js';
import { UsageError, validate } from '../../cli/src/usage.js';

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
    assert.match(usageError(() => validate(API, undefined, [], {})).message, /^missing action: .*info, status, logs, cancel, ping, start, stop$/);
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
  const text = (sections: Array<{ title?: string; body: string }>): string => sections.map((s) => `${s.title ?? ''}\n${s.body}`).join('\n');

  it('sky --help lists every action of every noun, and nothing else', () => {
    const help = text(globalHelp('9.9.9'));
    const listed = [...help.matchAll(/^ {2}(api|daemon) (\w+)/gm)].map((m) => `${m[1]} ${m[2]}`);
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
