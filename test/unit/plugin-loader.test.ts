import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PLUGIN_API_VERSION } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import { PluginLoader, type LoadedPlugins, type LoaderLogger } from '../../core/daemon/src/plugins/index.js';
import { exportsRootTarget } from '../../core/daemon/src/plugins/resolve.js';
import { checkApiVersion, checkDriverPlugin } from '../../core/daemon/src/plugins/validate.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/plugins');

interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLogger(): LoaderLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (obj: object | string, msg?: string): void => {
      if (typeof obj === 'string') lines.push({ level, obj: {}, msg: obj });
      else lines.push({ level, obj: { ...obj }, msg });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

let scratch: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sky-plugin-loader-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function setup(overrides: { pluginDirs?: string[]; searchFrom?: string[]; signal?: AbortSignal } = {}) {
  const logger = recordingLogger();
  const dataRoot = join(scratch, `data-${Math.random().toString(36).slice(2)}`);
  const loader = new PluginLoader({
    pluginDirs: overrides.pluginDirs ?? [FIXTURES],
    searchFrom: overrides.searchFrom ?? [],
    dataDir: (id) => join(dataRoot, id),
    logger,
    apiVersion: PLUGIN_API_VERSION,
    ...(overrides.signal === undefined ? {} : { signal: overrides.signal }),
  });
  return { loader, logger, dataRoot };
}

/** Run a load expected to reject and return its SkyError. */
async function loadError(loader: PluginLoader, drivers: Record<string, unknown>): Promise<SkyError> {
  try {
    await loader.load(drivers);
  } catch (error) {
    assert.ok(error instanceof SkyError, `expected a SkyError, got ${String(error)}`);
    return error;
  }
  assert.fail('load() resolved, expected it to reject');
}

describe('plugin loader: loading', () => {
  it('loads a good plugin, validates its config and passes id, config and dataDir to init', async () => {
    const { loader, logger, dataRoot } = setup();
    const loaded = await loader.load({ good: { greeting: 'hello' } });
    const good = loaded.drivers.get('good');
    assert.ok(good);
    assert.equal(good.packageName, 'sky-driver-good');
    assert.equal(good.version, '1.0.0');
    assert.equal(good.plugin.name, 'sky-driver-good');
    assert.deepEqual(
      { ...(good.driver as Record<string, unknown>), close: undefined },
      { id: 'good', greeting: 'hello', dataDir: join(dataRoot, 'good'), close: undefined },
    );
    assert.deepEqual(loaded.states, [{ id: 'good', kind: 'driver', package: 'sky-driver-good', state: 'loaded', version: '1.0.0', apiVersion: '^1.0.0' }]);
    // The plugin's own log lines are tagged with its id.
    assert.ok(logger.lines.some((l) => l.msg === 'good driver up' && l.obj['plugin'] === 'good'));
    await loaded.closeAll();
  });

  it('resolves a scoped id as the package name, through package.json exports and a named `plugin` export', async () => {
    const { loader } = setup();
    const loaded = await loader.load({ '@acme/sky-driver-scoped': {} });
    const scoped = loaded.drivers.get('@acme/sky-driver-scoped');
    assert.ok(scoped);
    assert.equal(scoped.packageName, '@acme/sky-driver-scoped');
    assert.equal(scoped.version, '2.3.4');
    assert.equal((scoped.driver as Record<string, unknown>)['scoped'], true);
  });

  it('honours a package: override', async () => {
    const { loader } = setup();
    const loaded = await loader.load({ greeter: { package: 'sky-driver-good', greeting: 'hi' } });
    const greeter = loaded.drivers.get('greeter');
    assert.ok(greeter);
    assert.equal(greeter.packageName, 'sky-driver-good');
    assert.equal((greeter.driver as Record<string, unknown>)['greeting'], 'hi');
    assert.deepEqual(loaded.states.map((s) => [s.id, s.package, s.state]), [['greeter', 'sky-driver-good', 'loaded']]);
    await loaded.closeAll();
  });

  it('does not pass reserved keys to the plugin config', async () => {
    const { loader } = setup();
    // sky-driver-good's schema rejects a non-boolean fail_close but ignores unknown keys; reserved keys must not reach it.
    const loaded = await loader.load({ good: { greeting: 'x', on_failure: 'skip', init_timeout_seconds: 5, enabled: true } });
    assert.equal(loaded.states[0]?.state, 'loaded');
    await loaded.closeAll();
  });

  it('leaves a disabled plugin unloaded without importing it', async () => {
    const { loader } = setup();
    const loaded = await loader.load({ missingdep: { enabled: false } });
    assert.equal(loaded.drivers.size, 0);
    assert.deepEqual(loaded.states, [{ id: 'missingdep', kind: 'driver', package: 'sky-driver-missingdep', state: 'skipped' }]);
  });
});

describe('plugin loader: resolution order', () => {
  let app: string;
  before(async () => {
    // An installed copy under node_modules with a different version, two levels above the search root.
    app = join(scratch, 'app');
    const installed = join(app, 'node_modules', 'sky-driver-good');
    await mkdir(join(app, 'packages', 'deep'), { recursive: true });
    await cp(join(FIXTURES, 'sky-driver-good'), installed, { recursive: true });
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(installed, 'package.json'), JSON.stringify({ ...manifest, version: '7.7.7' }));
  });

  it('finds a package in node_modules by walking up from a search root', async () => {
    const { loader } = setup({ pluginDirs: [], searchFrom: [join(app, 'packages', 'deep')] });
    const loaded = await loader.load({ good: { greeting: 'hi' } });
    assert.equal(loaded.drivers.get('good')?.version, '7.7.7');
    await loaded.closeAll();
  });

  it('prefers a plugin dir over node_modules', async () => {
    const { loader } = setup({ pluginDirs: [FIXTURES], searchFrom: [join(app, 'packages', 'deep')] });
    const loaded = await loader.load({ good: { greeting: 'hi' } });
    assert.equal(loaded.drivers.get('good')?.version, '1.0.0');
    await loaded.closeAll();
  });
});

describe('plugin loader: one error code per failure', () => {
  it('PLUGIN_NOT_FOUND lists where it looked and how to install', async () => {
    const { loader } = setup({ searchFrom: [join(scratch, 'nowhere', 'deeper')] });
    const error = await loadError(loader, { nosuch: {} });
    assert.equal(error.code, 'PLUGIN_NOT_FOUND');
    assert.match(error.message, /^drivers\.nosuch: plugin package sky-driver-nosuch is not installed/);
    assert.ok(error.message.includes(FIXTURES), error.message);
    assert.ok(error.message.includes(join(scratch, 'nowhere', 'deeper', 'node_modules')), error.message);
    assert.ok(error.message.includes(join(scratch, 'node_modules')), error.message);
    assert.match(error.message, /sky plugins install sky-driver-nosuch/);
    assert.match(error.hint ?? '', /npm install --prefix ~\/\.sky\/plugins sky-driver-nosuch/);
    assert.match(error.hint ?? '', /drivers\.nosuch\.package/);
  });

  it('PLUGIN_NOT_FOUND for a package: override names the override', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { x: { package: '@acme/not-installed' } });
    assert.equal(error.code, 'PLUGIN_NOT_FOUND');
    assert.match(error.message, /@acme\/not-installed is not installed/);
    assert.match(error.message, /correct drivers\.x\.package/);
  });

  it('PLUGIN_LOAD_FAILED carries the underlying import error', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { missingdep: {} });
    assert.equal(error.code, 'PLUGIN_LOAD_FAILED');
    assert.match(error.message, /^drivers\.missingdep: sky-driver-missingdep \(.*index\.js\) failed to import/);
    assert.match(error.message, /Cannot find package 'sky-fixture-dependency-that-is-not-installed'/);
    assert.match(error.hint ?? '', /npm install sky-driver-missingdep/);
  });

  it('PLUGIN_INVALID for a package without the brand', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { notaplugin: {} });
    assert.equal(error.code, 'PLUGIN_INVALID');
    assert.match(error.message, /sky-driver-notaplugin .* is not a sky plugin: its export lacks the brand 'sky\.plugin': true/);
    assert.match(error.hint ?? '', /defineDriverPlugin/);
  });

  it('PLUGIN_API_MISMATCH says which side to upgrade', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { wrongapi: {} });
    assert.equal(error.code, 'PLUGIN_API_MISMATCH');
    assert.equal(
      error.message,
      `drivers.wrongapi: sky-driver-wrongapi needs plugin API ^9.0.0; this daemon provides ${PLUGIN_API_VERSION}: upgrade sky, or install a sky-driver-wrongapi release built for 1.x`,
    );
  });

  it('PLUGIN_CONFIG_INVALID names every offending key as drivers.<id>.<key>', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { bad: { package: 'sky-driver-badconfig', port: 'eighty', hosts: ['a', 3] } });
    assert.equal(error.code, 'PLUGIN_CONFIG_INVALID');
    assert.match(error.message, /drivers\.bad\.port: expected a port number between 1 and 65535/);
    assert.match(error.message, /drivers\.bad\.hosts\[1\]: expected a host name/);
    assert.deepEqual(error.details?.['issues'], [
      { path: 'drivers.bad.port', message: 'expected a port number between 1 and 65535' },
      { path: 'drivers.bad.hosts[1]', message: 'expected a host name' },
    ]);
  });

  it('PLUGIN_CONFIG_INVALID for a missing required key (async schema)', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { good: {} });
    assert.equal(error.code, 'PLUGIN_CONFIG_INVALID');
    assert.match(error.message, /drivers\.good\.greeting: expected a string/);
  });

  it('PLUGIN_INIT_FAILED carries the thrown message', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { throwinit: {} });
    assert.equal(error.code, 'PLUGIN_INIT_FAILED');
    assert.match(error.message, /^drivers\.throwinit: init of sky-driver-throwinit failed: cannot reach the fixture cloud: ECONNREFUSED$/);
  });

  it('PLUGIN_INIT_FAILED for non-Error throws', async () => {
    const { loader } = setup();
    const text = await loadError(loader, { throwinit: { throw: 'string' } });
    assert.equal(text.code, 'PLUGIN_INIT_FAILED');
    assert.match(text.message, /failed: the fixture cloud said no$/);
    const bare = await loadError(loader, { throwinit: { throw: 'null' } });
    assert.equal(bare.code, 'PLUGIN_INIT_FAILED');
    assert.match(bare.message, /failed: a bare null$/);
  });

  it('PLUGIN_INIT_TIMEOUT aborts the init signal and returns promptly', async () => {
    const { loader, logger } = setup();
    const started = performance.now();
    const error = await loadError(loader, { hanginit: { init_timeout_seconds: 0.2 } });
    const elapsed = performance.now() - started;
    assert.equal(error.code, 'PLUGIN_INIT_TIMEOUT');
    assert.match(error.message, /^drivers\.hanginit: init of sky-driver-hanginit did not finish within 0\.2s/);
    assert.match(error.message, /drivers\.hanginit\.init_timeout_seconds/);
    assert.ok(elapsed < 1500, `took ${elapsed}ms`);
    assert.ok(logger.lines.some((l) => l.msg === 'hanginit saw its signal abort' && l.obj['plugin'] === 'hanginit'));
  });

  it('PLUGIN_INIT_TIMEOUT does not wait for an init that ignores its signal', { timeout: 5000 }, async () => {
    const { loader } = setup();
    const started = performance.now();
    const error = await loadError(loader, { hanginit: { init_timeout_seconds: 0.2, ignore_signal: true } });
    assert.equal(error.code, 'PLUGIN_INIT_TIMEOUT');
    assert.ok(performance.now() - started < 1500);
  });

  it('CONFIG_INVALID for a bad reserved key, naming it', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { good: { greeting: 'x', on_failure: 'ignore', init_timeout_seconds: -1 } });
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, /drivers\.good\.on_failure: expected "abort" or "skip", got "ignore"/);
    assert.match(error.message, /drivers\.good\.init_timeout_seconds: expected a positive number of seconds, got -1/);
  });

  it('refuses a package: override that could escape the search dirs', async () => {
    const { loader } = setup();
    const error = await loadError(loader, { evil: { package: '../../etc' } });
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, /drivers\.evil\.package: expected an npm package name/);
  });
});

describe('plugin loader: failure policy', () => {
  it("'abort' (the default) rejects and closes drivers already initialised", async () => {
    const { loader, logger } = setup();
    const error = await loadError(loader, { good: { greeting: 'hi' }, throwinit: {} });
    assert.equal(error.code, 'PLUGIN_INIT_FAILED');
    assert.ok(logger.lines.some((l) => l.msg === 'good driver closed' && l.obj['plugin'] === 'good'));
  });

  it("'skip' logs at error level, reports a skipped state and keeps loading", async () => {
    const { loader, logger } = setup();
    const loaded = await loader.load({
      wrongapi: { on_failure: 'skip' },
      good: { greeting: 'hi' },
      missingdep: { on_failure: 'skip' },
      throwinit: { on_failure: 'skip', throw: 'null' },
      nosuch: { on_failure: 'skip' },
    });
    assert.deepEqual([...loaded.drivers.keys()], ['good']);
    assert.deepEqual(
      loaded.states.map((s) => [s.id, s.state, s.error?.code]),
      [
        ['wrongapi', 'skipped', 'PLUGIN_API_MISMATCH'],
        ['good', 'loaded', undefined],
        ['missingdep', 'skipped', 'PLUGIN_LOAD_FAILED'],
        ['throwinit', 'skipped', 'PLUGIN_INIT_FAILED'],
        ['nosuch', 'skipped', 'PLUGIN_NOT_FOUND'],
      ],
    );
    // A skipped plugin that was found still reports its installed version.
    assert.equal(loaded.states[0]?.version, '3.1.0');
    assert.match(loaded.states[0]?.error?.message ?? '', /needs plugin API \^9\.0\.0/);
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.deepEqual(
      errors.map((l) => [l.obj['plugin'], l.obj['code']]),
      [
        ['wrongapi', 'PLUGIN_API_MISMATCH'],
        ['missingdep', 'PLUGIN_LOAD_FAILED'],
        ['throwinit', 'PLUGIN_INIT_FAILED'],
        ['nosuch', 'PLUGIN_NOT_FOUND'],
      ],
    );
    assert.ok(errors.every((l) => /is skipped/.test(l.msg ?? '')));
    await loaded.closeAll();
  });

  it("'skip' on a timeout moves on to the next plugin", async () => {
    const { loader } = setup();
    const loaded = await loader.load({
      hanginit: { on_failure: 'skip', init_timeout_seconds: 0.1, ignore_signal: true },
      good: { greeting: 'hi' },
    });
    assert.deepEqual(
      loaded.states.map((s) => [s.id, s.state, s.error?.code]),
      [
        ['hanginit', 'skipped', 'PLUGIN_INIT_TIMEOUT'],
        ['good', 'loaded', undefined],
      ],
    );
    await loaded.closeAll();
  });
});

describe('plugin loader: closing and shutdown', () => {
  it('closeAll closes each driver once and logs close errors instead of throwing', async () => {
    const { loader, logger } = setup();
    const loaded: LoadedPlugins = await loader.load({
      good: { greeting: 'a' },
      broken: { package: 'sky-driver-good', greeting: 'b', fail_close: true },
    });
    await loaded.closeAll();
    await loaded.closeAll();
    await loader.closeAll();
    assert.equal(logger.lines.filter((l) => l.msg === 'good driver closed').length, 1);
    const closeErrors = logger.lines.filter((l) => l.level === 'error' && l.obj['plugin'] === 'broken');
    assert.equal(closeErrors.length, 1);
    assert.match(closeErrors[0]?.msg ?? '', /closing sky-driver-good failed: close exploded/);
  });

  it('a shutdown signal stops a hanging init and rejects with CANCELLED', async () => {
    const controller = new AbortController();
    const { loader, logger } = setup({ signal: controller.signal });
    const loading = loader.load({ good: { greeting: 'x' }, hanginit: { on_failure: 'skip' } });
    setTimeout(() => controller.abort(), 50);
    const error = await loading.then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SkyError);
    assert.equal(error.code, 'CANCELLED');
    assert.ok(logger.lines.some((l) => l.msg === 'hanginit saw its signal abort'));
    assert.ok(logger.lines.some((l) => l.msg === 'good driver closed'));
  });
});

describe('plugin loader: checks in isolation', () => {
  it('API ranges: invalid ranges and too-old plugins are mismatches too', () => {
    assert.doesNotThrow(() => checkApiVersion('x', 'sky-driver-x', '^1.0.0', '1.0.0'));
    assert.doesNotThrow(() => checkApiVersion('x', 'sky-driver-x', '>=1 <3', '1.0.0'));
    assert.throws(
      () => checkApiVersion('x', 'sky-driver-x', 'banana', '1.0.0'),
      (e: unknown) => e instanceof SkyError && e.code === 'PLUGIN_API_MISMATCH' && /not a valid semver range/.test(e.message),
    );
    assert.throws(
      () => checkApiVersion('x', 'sky-driver-x', '^1.0.0', '2.0.0'),
      (e: unknown) =>
        e instanceof SkyError &&
        e.code === 'PLUGIN_API_MISMATCH' &&
        e.message === 'drivers.x: sky-driver-x needs plugin API ^1.0.0; this daemon provides 2.0.0: upgrade sky-driver-x to a release built for 2.x, or run a sky release that provides ^1.0.0',
    );
  });

  it('a range below the first plugin API (a plugin declaring its own 0.x version) is the plugin\'s mistake, not an upgrade', () => {
    for (const range of ['^0.1.0', '0.1.0', '<1.0.0', '~0.9.3']) {
      assert.throws(
        () => checkApiVersion('x', 'sky-driver-x', range, '1.7.0'),
        (e: unknown) =>
          e instanceof SkyError &&
          e.code === 'PLUGIN_API_MISMATCH' &&
          e.message ===
            `drivers.x: sky-driver-x declares plugin API range ${JSON.stringify(range)}, but plugin API versions start at 1.0.0; this daemon provides 1.7.0: ` +
              `the plugin's apiVersion is wrong (it must be a range of @sky/plugin-api versions, e.g. "^1.0.0"), not its own package version` &&
          /Report this to the authors of sky-driver-x/.test(e.hint ?? '') &&
          !/upgrade sky-driver-x/.test(e.message),
        range,
      );
    }
  });

  it('kind must be driver, and init a function', () => {
    const base = { 'sky.plugin': true, name: 'p', apiVersion: '^1.0.0', init: async () => ({}) };
    assert.throws(
      () => checkDriverPlugin('p', 'sky-store-p', '/x/index.js', { ...base, kind: 'store' }),
      (e: unknown) => e instanceof SkyError && e.code === 'PLUGIN_INVALID' && /is a store plugin/.test(e.message),
    );
    assert.throws(
      () => checkDriverPlugin('p', 'sky-driver-p', '/x/index.js', { ...base, kind: 'driver', init: 'nope' }),
      (e: unknown) => e instanceof SkyError && e.code === 'PLUGIN_INVALID' && /init is a string, not a function/.test(e.message),
    );
    assert.throws(
      () => checkDriverPlugin('p', 'sky-driver-p', '/x/index.js', undefined),
      (e: unknown) => e instanceof SkyError && e.code === 'PLUGIN_INVALID' && /default export is nothing/.test(e.message),
    );
  });

  it('entry selection follows exports conditions in order', () => {
    assert.equal(exportsRootTarget('./a.js'), './a.js');
    assert.equal(exportsRootTarget({ '.': './b.js', './sub': './c.js' }), './b.js');
    assert.equal(exportsRootTarget({ '.': { types: './t.d.ts', require: './r.cjs', import: './i.js' } }), './i.js');
    assert.equal(exportsRootTarget({ import: './i.js', default: './d.js' }), './i.js');
    assert.equal(exportsRootTarget({ '.': { node: { import: './n.js' }, default: './d.js' } }), './n.js');
    assert.equal(exportsRootTarget({ './sub': './c.js' }), undefined);
  });
});
