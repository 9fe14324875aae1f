import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import type { Logger } from 'pino';
import type { Driver } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import { PluginGuard } from '../../core/daemon/src/plugins/guard.js';
import { guardProcessExit } from '../../core/daemon/src/exit-guard.js';
import { guardHandlers } from '../../core/daemon/src/process-guards.js';
import { CallMarker, markerFile, stalledFile, takeStalls } from '../../core/daemon/src/plugins/call-marker.js';

/** What the guard logged, level by level. */
function recorder(): { logger: Logger & { lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> } } {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ level, obj, msg });
  const logger = { lines, info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), debug: at('debug') };
  return { logger: logger as unknown as Logger & { lines: typeof lines } };
}

const root = mkdtempSync(join(tmpdir(), 'sky-plugin-guard-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A real module under a plugin package directory: its functions run with frames in that directory. */
async function pluginModule(name: string): Promise<{ dir: string; mod: Record<string, (...args: unknown[]) => unknown> }> {
  const dir = join(root, 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'index.mjs'),
    [
      'export function boom() { throw new Error("boom from the plugin"); }',
      'export function leave(code) { process.exit(code); }',
      'export function call(fn) { return fn(); }',
    ].join('\n'),
  );
  return { dir, mod: (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as Record<string, (...args: unknown[]) => unknown> };
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return assert.fail('expected a throw');
}

describe('PluginGuard', () => {
  it('blames the plugin whose package holds the topmost plugin frame, and only frames (not the message) count', async () => {
    const { dir, mod } = await pluginModule('sky-driver-blamed');
    const { logger } = recorder();
    const guard = new PluginGuard(logger);
    guard.register({ id: 'blamed', packageName: 'sky-driver-blamed', version: '1.2.3' }, dir);
    const err = thrownBy(() => mod.boom!()) as Error;
    assert.deepEqual(guard.owners(err.stack).map((p) => p.id), ['blamed']);
    // A message that names the directory, thrown by sky's own code: no plugin frame, no blame.
    const own = new Error(`cannot read ${dir}/index.mjs`);
    assert.deepEqual(guard.owners(own.stack), []);
    assert.equal(guard.attribute('uncaught exception', own), false);
  });

  it('a fault stops the plugin once, logged with stack, package and version; later ones are noted', async () => {
    const { dir, mod } = await pluginModule('sky-driver-twice');
    const { logger } = recorder();
    const guard = new PluginGuard(logger);
    guard.register({ id: 'twice', packageName: 'sky-driver-twice', version: '0.9.0' }, dir);
    const err = thrownBy(() => mod.boom!());
    assert.equal(guard.attribute('uncaught exception', err), true);
    assert.equal(guard.attribute('uncaught exception', err), true);
    const fault = guard.failure('twice');
    assert.equal(fault?.error.code, 'PLUGIN_FAILED');
    assert.match(fault.error.message, /^drivers\.twice: sky-driver-twice@0\.9\.0 was stopped after an uncaught exception in its code: boom from the plugin$/);
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.obj['version'], '0.9.0');
    assert.match((errors[0]!.obj['err'] as Error).stack ?? '', /sky-driver-twice/);
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 1);
  });

  it('ids sharing one package are all blamed: their code cannot be told apart', async () => {
    const { dir, mod } = await pluginModule('sky-driver-shared');
    const guard = new PluginGuard(recorder().logger);
    guard.register({ id: 'a', packageName: 'sky-driver-shared', version: '1.0.0' }, dir);
    guard.register({ id: 'b', packageName: 'sky-driver-shared', version: '1.0.0' }, dir);
    guard.attribute('uncaught exception', thrownBy(() => mod.boom!()));
    assert.ok(guard.failure('a') !== undefined && guard.failure('b') !== undefined);
  });

  it('a wrapped driver logs a plain exception with the plugin and version, but not a sky error', async () => {
    const { logger } = recorder();
    const guard = new PluginGuard(logger);
    const driver = {
      async provision(): Promise<never> {
        throw new TypeError('zone is undefined');
      },
      async status(): Promise<never> {
        throw new SkyError('NO_CAPACITY', 'full');
      },
    } as unknown as Driver;
    const wrapped = guard.wrap({ id: 'x', packageName: 'sky-driver-x', version: '3.0.0' }, driver) as unknown as Record<string, () => Promise<unknown>>;
    await assert.rejects(wrapped['provision']!(), /zone is undefined/);
    await assert.rejects(wrapped['status']!(), /full/);
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.msg, 'drivers.x: sky-driver-x@3.0.0 provision threw: zone is undefined');
    assert.equal(errors[0]!.obj['operation'], 'provision');
  });
});

describe('process.exit guard', () => {
  it("refuses process.exit from plugin code (the plugin is stopped) and lets the daemon's own exit through", async () => {
    const { dir, mod } = await pluginModule('sky-driver-exiter');
    const guard = new PluginGuard(recorder().logger);
    guard.register({ id: 'exiter', packageName: 'sky-driver-exiter', version: '1.0.0' }, dir);
    const real = process.exit;
    const exits: unknown[] = [];
    process.exit = ((code?: number) => void exits.push(code)) as typeof process.exit;
    const restore = guardProcessExit(guard);
    try {
      assert.throws(() => mod.leave!(3), /process\.exit\(3\) called by plugin code was refused/);
      assert.equal(guard.failure('exiter')?.kind, 'process.exit');
      process.exit(0);
      assert.deepEqual(exits, [0]);
    } finally {
      restore();
      process.exit = real;
    }
  });
});

describe('process-level handlers', () => {
  it("survive a plugin's exception and exit on sky's own", async () => {
    const { dir, mod } = await pluginModule('sky-driver-handled');
    const { logger } = recorder();
    const guard = new PluginGuard(logger);
    guard.register({ id: 'handled', packageName: 'sky-driver-handled', version: '1.0.0' }, dir);
    const exits: number[] = [];
    const handlers = guardHandlers({ logger, logFailing: () => false, stderr: () => undefined, exit: (code) => void exits.push(code), attribute: (kind, err) => guard.attribute(kind, err) });
    handlers.exception(thrownBy(() => mod.boom!()));
    handlers.rejection(thrownBy(() => mod.call!(() => mod.boom!())));
    assert.deepEqual(exits, []);
    handlers.exception(new Error('a bug in sky'));
    assert.deepEqual(exits, [1]);
  });
});

describe('the marker of running plugin code', () => {
  it('names the plugin while its code runs, and a dead process leaves it for the next daemon', () => {
    const dir = mkdtempSync(join(root, 'state-'));
    const file = join(dir, 'plugin-running.me');
    const marker = new CallMarker(file);
    const guard = new PluginGuard(recorder().logger, marker);
    guard.register({ id: 'spin', packageName: 'sky-driver-spin', version: '0.1.0' }, join(dir, 'pkg'));
    const during = guard.run('spin', 'provision', () => readFileSync(file, 'utf8').trim());
    assert.deepEqual(JSON.parse(during), { id: 'spin', packageName: 'sky-driver-spin', version: '0.1.0', op: 'provision' });
    assert.equal(readFileSync(file, 'utf8').trim(), '', 'cleared once the call returns');
    marker.close();
    assert.ok(!existsSync(file));

    const dead = spawnSync('true').pid ?? assert.fail('no pid');
    writeFileSync(markerFile(dir, dead), `${during}   `);
    writeFileSync(markerFile(dir, dead + 1_000_000), '    ');
    writeFileSync(markerFile(dir, process.ppid), during);
    // A marker the watchdog renamed is its verdict: that process was killed for holding the event loop.
    const stalledPid = dead + 2_000_000;
    writeFileSync(stalledFile(markerFile(dir, stalledPid)), during);
    assert.ok(stalledFile(markerFile(dir, stalledPid)).endsWith(`plugin-stalled.${stalledPid}`));
    const stalls = takeStalls(dir).sort((a, b) => a.pid - b.pid);
    assert.deepEqual(
      stalls.map((s) => [s.pid, s.record.id, s.record.op, s.stalled]),
      [
        [dead, 'spin', 'provision', false],
        [stalledPid, 'spin', 'provision', true],
      ],
      'a plain marker of a dead process (a kill -9, a crash) is no stall; the verdict is',
    );
    assert.ok(!existsSync(markerFile(dir, dead)) && !existsSync(markerFile(dir, dead + 1_000_000)), 'the dead processes\' markers are removed');
    assert.ok(!existsSync(stalledFile(markerFile(dir, stalledPid))), 'and the verdict too');
    assert.ok(existsSync(markerFile(dir, process.ppid)), "a live process's marker is left alone");
  });
});
