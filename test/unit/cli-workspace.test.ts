import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveEndpoint, SkyClient } from '@sky/client';
import { SkyError, type WorkspaceView } from '@sky/protocol';
import { submitOptions } from '../../cli/src/commands/launch.js';
import { COMMANDS, NOUNS, WORKSPACE } from '../../cli/src/spec.js';
import { UsageError, validate, validateCommand } from '../../cli/src/usage.js';
import { createBody, updateBody, workspaceTable } from '../../cli/src/workspace-format.js';

function ws(over: Partial<WorkspaceView>): WorkspaceView {
  return { name: 'w', private: false, allowedUsers: [], allowedUserNames: [], createdAt: 0, updatedAt: 0, ...over };
}

describe('sky workspace', () => {
  it('is a noun with list, create, update, delete and the webhook actions', () => {
    assert.ok(NOUNS.includes(WORKSPACE));
    assert.deepEqual(WORKSPACE.actions.map((a) => a.name), ['list', 'create', 'update', 'delete', 'webhooks', 'webhook-add', 'webhook-rm', 'webhook-log']);
  });

  it('lists workspaces as NAME PRIVATE USERS INFRA', () => {
    const lines = workspaceTable([
      ws({ name: 'default' }),
      ws({ name: 'research', private: true, allowedUsers: ['u-1', 'u-2'], allowedUserNames: ['alice', 'bob'], allowedInfra: ['ssh/gpu-a', 'local'] }),
      ws({ name: 'locked', private: true }),
    ]);
    assert.match(lines[0]!, /^NAME\s+PRIVATE\s+USERS\s+INFRA$/);
    assert.match(lines[1]!, /^default\s+no\s+all\s+any$/);
    assert.match(lines[2]!, /^research\s+yes\s+alice,bob\s+ssh\/gpu-a,local$/);
    assert.match(lines[3]!, /^locked\s+yes\s+-\s+any$/);
  });

  it('create takes NAME, --private, repeated --allow and --infra', () => {
    const inv = validate(WORKSPACE, 'create', ['research'], { private: true, allow: ['alice', 'bob', 'alice'], infra: ['ssh', 'ssh/gpu-a'] });
    assert.deepEqual(inv.options, { private: true, allow: ['alice', 'bob', 'alice'], workspaceInfra: ['ssh', 'ssh/gpu-a'] });
    assert.deepEqual(createBody(inv.args[0]!, inv.options), { name: 'research', private: true, allowed_users: ['alice', 'bob'], allowed_infra: ['ssh', 'ssh/gpu-a'] });
    assert.deepEqual(createBody('open', {}), { name: 'open' });
    assert.throws(() => validate(WORKSPACE, 'create', [], {}), UsageError);
    assert.throws(() => validate(WORKSPACE, 'create', ['x'], { public: true }), /--public is not valid/);
  });

  it('update sends only what changes; --infra any lifts the restriction', () => {
    assert.deepEqual(updateBody({ public: true }), { private: false });
    assert.deepEqual(updateBody({ private: true, allow: ['carol'] }), { private: true, allowed_users: ['carol'] });
    assert.deepEqual(updateBody({ workspaceInfra: ['any'] }), { allowed_infra: null });
    assert.deepEqual(updateBody({ workspaceInfra: ['local'] }), { allowed_infra: ['local'] });
    assert.throws(() => updateBody({}), /nothing to change/);
    assert.throws(() => updateBody({ private: true, public: true }), /do not go together/);
    assert.throws(() => updateBody({ workspaceInfra: ['any', 'ssh'] }), /give it alone/);
  });

  it('delete takes NAME and -y', () => {
    assert.deepEqual(validate(WORKSPACE, 'delete', ['research'], { y: true, yes: true }).options, { yes: true });
  });

  it('launch and exec take --workspace and send it with the submit', () => {
    const launch = COMMANDS.find((c) => c.name === 'launch')!;
    const exec = COMMANDS.find((c) => c.name === 'exec')!;
    assert.equal(validateCommand(launch, ['echo', 'hi'], { workspace: 'research' }).options.workspace, 'research');
    assert.equal(validateCommand(exec, ['dev', 'echo'], { workspace: 'research' }).options.workspace, 'research');
    assert.deepEqual(submitOptions({ workspace: 'research' }), { workspace: 'research' });
    assert.deepEqual(submitOptions({}), {});
  });
});

describe('active_workspace in ~/.sky/config.yaml', () => {
  async function homeWith(text: string | undefined): Promise<string> {
    const home = await mkdtemp(join(tmpdir(), 'sky-ws-'));
    if (text !== undefined) {
      await mkdir(join(home, '.sky'), { recursive: true });
      await writeFile(join(home, '.sky', 'config.yaml'), text);
    }
    return home;
  }

  it('is read when present, alongside or without api_server', async () => {
    for (const [text, expected] of [
      ['active_workspace: research\n', 'research'],
      ['api_server:\n  endpoint: http://127.0.0.1:5000\nactive_workspace: team-a\n', 'team-a'],
      ['api_server:\n  endpoint: http://127.0.0.1:5000\n', undefined],
      [undefined, undefined],
    ] as const) {
      const home = await homeWith(text);
      try {
        assert.equal((await resolveEndpoint({ env: {}, home })).activeWorkspace, expected, String(text));
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    }
  });

  it('a bad value names the file and line', async () => {
    const home = await homeWith('api_server:\n  endpoint: http://127.0.0.1:5000\nactive_workspace: [a, b]\n');
    try {
      await assert.rejects(resolveEndpoint({ env: {}, home }), (err: unknown) => err instanceof SkyError && err.code === 'CONFIG_INVALID' && /line 3 \(active_workspace\)/.test(err.message));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('the client sends it as x-sky-workspace, and --workspace wins', async () => {
    const home = await homeWith('active_workspace: research\n');
    try {
      const client = await SkyClient.fromEnvironment({ env: {}, home });
      const sent: Array<Record<string, string>> = [];
      (client as unknown as { transport: { json: (call: { headers?: Record<string, string> }) => Promise<unknown> } }).transport.json = async (call) => {
        sent.push(call.headers ?? {});
        return { requestId: 'r1', status: 'PENDING', created: true };
      };
      await client.submit('ping', {});
      await client.submit('ping', {}, { workspace: 'other' });
      client.close();
      assert.equal(sent[0]!['x-sky-workspace'], 'research');
      assert.equal(sent[1]!['x-sky-workspace'], 'other');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
